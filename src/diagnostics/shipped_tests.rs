//! The shipped packs as the seed runbooks write their commands: the journal read as seed 000
//! reads it, and the in-container checks of seeds 001 to 003 (docker, kubectl and compose exec).

use std::collections::BTreeMap;

use super::catalog::{Catalog, Kind};

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn the_journal_reads_as_seed_000_writes_it_and_a_priority_only_when_asked() {
    let catalog = Catalog::built_in().unwrap();
    let service = map(&[("unit", "microdiff-matdesign")]);
    let argv = |id: &str, given: &[(&str, &str)]| {
        let action = catalog.get(id).unwrap();
        action.render(&action.resolve_params(&service, &map(given)).unwrap())
    };

    // Seed 000: journalctl -u microdiff-matdesign --since "1 hour ago"
    let journal = argv("systemd.journal", &[]);
    let priority = argv("systemd.journal_priority", &[("priority", "warning")]);

    assert_eq!(
        journal,
        ["journalctl", "-u", "microdiff-matdesign", "--since", "1 hour ago", "--no-pager", "--lines", "200"]
    );
    assert_eq!(argv("systemd.journal", &[("since", "today")])[4], "today");
    assert!(priority.windows(2).any(|w| w == ["--priority", "warning"]), "{priority:?}");
    assert!(!argv("systemd.journal_errors", &[]).iter().any(|w| w.contains("priority")));
    let errors = catalog.get("systemd.journal_errors").unwrap();
    assert_eq!(errors.forms(), [r#"journalctl -u {unit} --since "1 hour ago" | grep -i "error\|fatal\|exception""#]);
    let filter = errors.filter.as_ref().unwrap();
    assert!(filter.is_match("api[811]: FATAL: no db") && !filter.is_match("Stopped api.service"));
    let journal = catalog.get("systemd.journal").unwrap();
    for refused in ["-30min", "1 hour ago --priority err", "soon"] {
        assert!(journal.resolve_params(&service, &map(&[("since", refused)])).is_err(), "{refused}");
    }
}

#[test]
fn the_container_forms_are_written_as_the_seeds_write_them() {
    let catalog = Catalog::built_in().unwrap();
    let service = map(&[
        ("celery_container", "dmarc-celery-worker"),
        ("celery_app", "celery_worker"),
        ("redis_container", "dmarc-redis"),
        ("namespace", "web3-marketplace-prod"),
        ("pg_pod", "statefulset/postgres-primary"),
        ("redis_pod", "statefulset/redis-master"),
        ("ping_service", "prometheus"),
        ("ping_host", "inference-gateway"),
    ]);
    let written = |id: &str| {
        let mut form = catalog.get(id).unwrap().forms().remove(0);
        for (name, value) in &service {
            form = form.replace(&format!("{{{name}}}"), value);
        }
        form.replace("{pg_user}", "postgres")
    };

    assert_eq!(written("celery.docker_ping"), "docker exec dmarc-celery-worker celery -A celery_worker inspect ping");
    assert_eq!(
        written("celery.docker_active"),
        "docker exec dmarc-celery-worker celery -A celery_worker inspect active"
    );
    assert_eq!(written("celery.docker_purge"), "docker exec dmarc-celery-worker celery -A celery_worker purge -f");
    assert_eq!(written("redis.docker_ping"), "docker exec dmarc-redis redis-cli ping");
    assert_eq!(written("redis.docker_flushall"), "docker exec dmarc-redis redis-cli FLUSHALL");
    assert_eq!(
        written("postgres.kubectl_ready"),
        "kubectl exec -it -n web3-marketplace-prod statefulset/postgres-primary -- pg_isready -U postgres"
    );
    assert_eq!(
        written("redis.kubectl_ping"),
        "kubectl exec -it -n web3-marketplace-prod statefulset/redis-master -- redis-cli ping"
    );
    assert_eq!(written("compose.exec_ping"), "docker-compose exec prometheus ping inference-gateway -c 3");
    for destructive in ["celery.docker_purge", "redis.docker_flushall"] {
        let action = catalog.get(destructive).unwrap();
        assert_eq!((action.kind, action.approvals), (Kind::Change, Some(2)), "{destructive} loses data");
    }
    let ping = catalog.get("celery.docker_ping").unwrap();
    let values = ping.resolve_params(&service, &map(&[])).unwrap();
    assert_eq!(
        ping.render(&values),
        ["docker", "exec", "dmarc-celery-worker", "celery", "-A", "celery_worker", "inspect", "ping"]
    );
}
