//! A pack entry a team could add for a manual command: the command's argv with `{param}` words
//! where it names the service's params (or a default of the service's packs for that program)
//! or leaves a placeholder, an anchored pattern for each new parameter, a kind guessed from its
//! verbs (restart, rollout, scale, delete, purge, flush... → change), and the runbook's line as
//! its form, so the step maps once the entry is loaded. Commands no entry can express (an SQL
//! statement, a shell construct, what warroom already does) get the reason instead.

use std::collections::{BTreeMap, BTreeSet};

use super::mapping::{is_filter, is_placeholder};
use super::shell;
use super::why;
use crate::config::ServiceConfig;
use crate::diagnostics::Catalog;

/// Words that make an action a change (it then needs an approval).
const CHANGE_VERBS: &[&str] = &[
    "restart",
    "rollout",
    "undo",
    "scale",
    "delete",
    "purge",
    "flush",
    "flushall",
    "flushdb",
    "kill",
    "pkill",
    "rm",
    "stop",
    "start",
    "up",
    "down",
    "apply",
    "set",
    "edit",
    "patch",
    "cp",
    "mv",
    "vacuum",
    "failover",
    "register",
    "deregister",
    "reboot",
    "drain",
    "cordon",
    "checkout",
    "build",
    "make",
    "logrotate",
    "truncate",
    "drop",
    "pull",
    "mkdir",
    "tee",
    "install",
    "post",
    "put",
];

/// The TOML of a pack entry for `command`, or why there is none. `title` is the step's note;
/// `taken` holds the ids already suggested (each is made unique).
pub fn suggest(
    catalog: &Catalog,
    service_name: &str,
    service: &ServiceConfig,
    command: &str,
    title: Option<&str>,
    taken: &mut BTreeSet<String>,
) -> Result<String, String> {
    let script = shell::parse(command).map_err(|open| format!("not a whole command: {open}"))?;
    let all: Vec<&str> = script.pipelines.iter().flatten().flat_map(|s| &s.words).map(|w| w.text.as_str()).collect();
    let Some(stages) = script.pipelines.first().filter(|p| p.first().is_some_and(|s| !s.words.is_empty())) else {
        return Err("no command on this line".into());
    };
    let mut words: Vec<String> = stages[0].words.iter().map(|w| w.text.clone()).collect();
    if why::is_sql(&words[0]) {
        return Err(
            "an SQL statement: an entry would run it through `psql -c \"...\"`, with the session's connection".into()
        );
    }
    if why::done_by_warroom(&all).is_some() {
        return Err("warroom does this itself".into());
    }
    if let Some(reason) = why::shell_construct(&script, &words) {
        return Err(reason);
    }
    let mut comments = Vec::new();
    if words.len() > 1 && words[0] == "sudo" && !words[1].starts_with('-') {
        words.remove(0);
        comments.push("without `sudo`: the runner needs the rights itself".to_string());
    }
    let program = words[0].clone();
    let mut params: BTreeMap<String, NewParam> = BTreeMap::new();
    let argv: Vec<String> = words.iter().map(|w| parametrize(w, &program, catalog, service, &mut params)).collect();

    let later: Vec<String> =
        stages[1..].iter().map(|s| s.words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ")).collect();
    if !later.is_empty() {
        let normalized: Vec<Vec<String>> =
            stages[1..].iter().map(|s| s.words.iter().map(|w| w.text.clone()).collect()).collect();
        if normalized.iter().all(|s| is_filter(s)) {
            comments
                .push(format!("the runbook pipes this into `{}`: warroom shows the whole output", later.join(" | ")));
        } else {
            comments.push(format!(
                "only the first stage: the runbook pipes it into `{}`, which no action runs",
                later.join(" | ")
            ));
        }
    }
    if let Some(reason) = why::endless(&words) {
        comments.push(format!("careful: {reason}, so it is cut there"));
    }
    if let Some(word) = why::destructive(&words) {
        comments.push(format!("destructive (`{word}`): a change, run only after another person approves it"));
    }
    if all.iter().any(|w| ["secret", "password", "token", "database_url"].iter().any(|s| w.to_lowercase().contains(s)))
        || (program.starts_with("docker") && words.iter().any(|w| w == "config"))
    {
        comments
            .push("careful: its output may hold secrets; warroom redacts the shapes it knows, not every secret".into());
    }
    if program.starts_with("./") || (program.contains('/') && !program.starts_with('/')) {
        comments.push("a relative path: give the program's absolute path on the runner's host".into());
    }
    for (name, param) in &params {
        if param.target && !service.params.contains_key(name) && param.default.is_none() {
            comments.push(format!(
                "`{name}` is a target: set it in `[services.{service_name}] params`, or `allow.{name}` to let people choose"
            ));
        }
    }

    let kind = if words.iter().any(|w| is_change_word(w)) { "change" } else { "read" };
    let id = unique_id(service_name, &argv, taken);
    let title = title.map_or_else(|| words.join(" "), str::to_string);
    let mut out = String::new();
    for comment in &comments {
        out.push_str(&format!("# {comment}\n"));
    }
    out.push_str("[[action]]\n");
    out.push_str(&format!("id = {}\n", toml_string(&id)));
    out.push_str(&format!("title = {}\n", toml_string(&title)));
    out.push_str(&format!("kind = \"{kind}\"\n"));
    let quoted: Vec<String> = argv.iter().map(|w| toml_string(w)).collect();
    out.push_str(&format!("argv = [{}]\n", quoted.join(", ")));
    let form: Vec<String> = argv.iter().map(|w| shell::quote(w)).collect();
    out.push_str(&format!("forms = [{}]\n", toml_string(&form.join(" "))));
    for (name, param) in &params {
        let default = param.default.as_ref().map_or(String::new(), |d| format!(", default = {}", toml_string(d)));
        let target = if param.target { ", target = true" } else { "" };
        out.push_str(&format!("params.{name} = {{ pattern = {}{default}{target} }}\n", toml_string(&param.pattern)));
    }
    Ok(out)
}

/// A parameter of the suggested entry.
struct NewParam {
    pattern: String,
    target: bool,
    /// Copied when the runbook's word is a catalog action's default (`-p 5432`).
    default: Option<String>,
}

/// `word` with the service's values and the runbook's placeholders as `{param}`s; records
/// each parameter's pattern and whether it is a target.
fn parametrize(
    word: &str,
    program: &str,
    catalog: &Catalog,
    service: &ServiceConfig,
    params: &mut BTreeMap<String, NewParam>,
) -> String {
    // The service's own value, whole or after `resource/`, `key=`, `--opt=`.
    let (prefix, value) = match word.rfind(['/', '=']) {
        Some(at) if !word.contains("://") && !word.starts_with('/') => (&word[..=at], &word[at + 1..]),
        _ => ("", word),
    };
    for candidate in [(word, ""), (value, prefix)] {
        if let Some((name, default)) = known_param(candidate.0, program, catalog, service) {
            let (pattern, target) = catalog_param(catalog, &name, program).unwrap_or_else(|| guess(&name));
            params.insert(name.clone(), NewParam { pattern, target, default });
            return format!("{}{{{name}}}", candidate.1);
        }
    }
    // Placeholders, whole or inside the word (`/proc/<pid>/maps`, `.../pages/$PAGE_ID/...`).
    static PLACEHOLDER: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"<[A-Za-z][A-Za-z0-9_.-]*>|\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*")
            .expect("a valid pattern")
    });
    let re = &*PLACEHOLDER;
    let whole = is_placeholder(word).then(|| word.to_string());
    let mut out = word.to_string();
    let found: Vec<String> = match whole {
        Some(w) if !re.is_match(&w) => vec![w],
        _ => re.find_iter(word).map(|m| m.as_str().to_string()).collect(),
    };
    for placeholder in found {
        let name = placeholder_name(&placeholder);
        let (pattern, target) = catalog_param(catalog, &name, program).unwrap_or_else(|| guess(&name));
        params.entry(name.clone()).or_insert(NewParam { pattern, target, default: None });
        out = out.replacen(&placeholder, &format!("{{{name}}}"), 1);
    }
    out
}

/// The service param whose value `word` is (the one an action for `program` uses, if several),
/// or a target param of an action for `program` whose default it is (with that default).
fn known_param(
    word: &str,
    program: &str,
    catalog: &Catalog,
    service: &ServiceConfig,
) -> Option<(String, Option<String>)> {
    if word.is_empty() {
        return None;
    }
    let same_program: Vec<&crate::diagnostics::Action> =
        catalog.for_packs(&service.packs).filter(|a| a.argv.first().is_some_and(|p| p == program)).collect();
    let named: Vec<&String> = service.params.iter().filter(|(_, v)| v.as_str() == word).map(|(k, _)| k).collect();
    if let Some(name) = named.iter().find(|n| same_program.iter().any(|a| a.params.contains_key(n.as_str()))) {
        return Some((name.to_string(), None));
    }
    if let Some(name) = named.first() {
        return Some((name.to_string(), None));
    }
    same_program
        .iter()
        .flat_map(|a| &a.params)
        .find(|(_, p)| p.target && p.default.as_deref() == Some(word))
        .map(|(name, p)| (name.clone(), p.default.clone()))
}

/// `name`'s pattern and target flag in the catalog (an action for `program` first), anchored.
fn catalog_param(catalog: &Catalog, name: &str, program: &str) -> Option<(String, bool)> {
    let mut actions: Vec<&crate::diagnostics::Action> = catalog.all().filter(|a| a.params.contains_key(name)).collect();
    actions.sort_by_key(|a| a.argv.first().map(String::as_str) != Some(program));
    let param = actions.first()?.params.get(name)?;
    // The catalog matches `^(?:...)$` around the pattern as written (itself `^...$`): an entry
    // writes it as the pack file does.
    let full = param.pattern.as_str();
    let written = full.strip_prefix("^(?:").and_then(|p| p.strip_suffix(")$")).unwrap_or(full);
    Some((written.to_string(), param.target))
}

/// A pattern for a new parameter, from its name; a target when the name says what is acted on.
fn guess(name: &str) -> (String, bool) {
    let targets =
        ["url", "host", "port", "container", "unit", "namespace", "deployment", "pod", "job", "service", "project"];
    let target = name.split('_').any(|w| targets.contains(&w));
    let has = |w: &str| name.split('_').any(|p| p == w);
    let pattern = if has("url") {
        r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/%-]*)?$"
    } else if has("port") || has("pid") || has("count") || has("replicas") || has("number") {
        "^[0-9]{1,7}$"
    } else if has("arn") {
        "^arn:aws:[a-z0-9-]+:[a-z0-9-]*:[0-9]*:[A-Za-z0-9/:._-]+$"
    } else if has("commit") {
        "^[0-9a-f]{7,40}$"
    } else {
        "^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
    };
    (pattern.to_string(), target)
}

/// `<pod-name>` → `pod`, `$TARGET_GROUP_ARN` → `target_group_arn`, `<PID>` → `pid`.
fn placeholder_name(placeholder: &str) -> String {
    let bare = placeholder.trim_start_matches(['<', '$', '{']).trim_end_matches(['>', '}']).trim_end_matches("...");
    let name: String = bare
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect::<String>()
        .trim_matches('_')
        .to_string();
    let name = name.strip_suffix("_name").filter(|n| !n.is_empty()).unwrap_or(&name).to_string();
    if name.starts_with(|c: char| c.is_ascii_digit()) || name.is_empty() {
        format!("p_{name}")
    } else {
        name
    }
}

fn is_change_word(word: &str) -> bool {
    let lower = word.to_lowercase();
    let lower = lower.trim_start_matches('-');
    lower.split(['-', '_']).any(|part| CHANGE_VERBS.contains(&part))
}

/// `<service>.<program>_<verb>...`, unique among `taken`.
fn unique_id(service_name: &str, argv: &[String], taken: &mut BTreeSet<String>) -> String {
    let program = argv[0].rsplit('/').next().unwrap_or(&argv[0]).trim_end_matches(".sh");
    let words = std::iter::once(program).chain(
        argv[1..]
            .iter()
            .map(String::as_str)
            .filter(|w| !w.starts_with('-') && w.chars().all(|c| c.is_ascii_alphabetic() || c == '-'))
            .take(2),
    );
    let slug: String = words
        .collect::<Vec<_>>()
        .join("_")
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let base = format!("{service_name}.{slug}");
    let mut id = base.clone();
    let mut n = 2;
    while !taken.insert(id.clone()) {
        id = format!("{base}_{n}");
        n += 1;
    }
    id
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(packs: &[&str], params: &[(&str, &str)], command: &str) -> Result<String, String> {
        let service = ServiceConfig {
            packs: packs.iter().map(|p| p.to_string()).collect(),
            params: params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..Default::default()
        };
        suggest(&Catalog::built_in().unwrap(), "web", &service, command, None, &mut BTreeSet::new())
    }

    #[test]
    fn the_services_values_and_placeholders_become_params() {
        let toml = entry(
            &["kubernetes"],
            &[("namespace", "prod"), ("deployment", "api")],
            "kubectl rollout status deployment/<deployment-name> -n prod",
        )
        .unwrap();
        assert!(toml.contains("id = \"web.kubectl_rollout_status\""), "{toml}");
        assert!(toml.contains("kind = \"change\""), "rollout is a change verb: {toml}");
        assert!(
            toml.contains(r#"argv = ["kubectl", "rollout", "status", "deployment/{deployment}", "-n", "{namespace}"]"#),
            "{toml}"
        );
        assert!(
            toml.contains(r#"forms = ["kubectl rollout status deployment/{deployment} -n {namespace}"]"#),
            "{toml}"
        );
        assert!(toml.contains("params.deployment = { pattern = \"^[a-z0-9]"), "{toml}");
        let pod = entry(&["kubernetes"], &[("namespace", "prod")], "kubectl describe pod -n prod <pod-name>").unwrap();
        assert!(pod.contains("kind = \"read\""), "{pod}");
        assert!(
            pod.contains("params.pod = { pattern = \"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$\", target = true }"),
            "{pod}"
        );
        assert!(pod.contains("`pod` is a target: set it in `[services.web] params`"), "{pod}");
    }

    #[test]
    fn an_entry_loads_as_a_pack_and_maps_the_command() {
        let toml = entry(
            &["postgres"],
            &[("pg_host", "localhost")],
            "psql -h localhost -p 5432 -U microdiff -c \"SELECT 1;\"",
        )
        .unwrap();
        assert!(
            toml.contains(
                r#"argv = ["psql", "-h", "{pg_host}", "-p", "{pg_port}", "-U", "microdiff", "-c", "SELECT 1;"]"#
            ),
            "{toml}"
        );
        assert!(
            toml.contains(r#"params.pg_port = { pattern = "^[0-9]{1,5}$", default = "5432", target = true }"#),
            "{toml}"
        );
        let path = std::env::temp_dir().join(format!("web-{}.toml", uuid::Uuid::new_v4().simple()));
        std::fs::write(&path, &toml).unwrap();
        let catalog = Catalog::from_file(&path);
        std::fs::remove_file(&path).unwrap();
        let catalog = catalog.unwrap();
        let pack = path.file_stem().unwrap().to_str().unwrap().to_string();
        let service = ServiceConfig {
            packs: vec![pack],
            params: [("pg_host".to_string(), "localhost".to_string())].into(),
            ..Default::default()
        };
        let mapped =
            crate::runbook::map_step(&catalog, &service, "psql -h localhost -p 5432 -U microdiff -c \"SELECT 1;\"");
        assert!(matches!(mapped, crate::runbook::StepAction::Action { .. }), "{mapped:?}");
    }

    #[test]
    fn what_no_entry_can_express_says_why() {
        assert!(entry(&[], &[], "SELECT 1;").unwrap_err().contains("SQL statement"));
        assert!(entry(&[], &[], "for i in {1..3}; do curl x; done").unwrap_err().contains("never a shell"));
        assert!(entry(&[], &[], "curl -X POST https://api.statuspage.io/v1/pages/PAGE_ID/incidents")
            .unwrap_err()
            .contains("warroom does this itself"));
        let flush = entry(&[], &[], "docker exec dmarc-redis redis-cli FLUSHALL").unwrap();
        assert!(flush.contains("# destructive (`FLUSHALL`)") && flush.contains("kind = \"change\""), "{flush}");
    }
}
