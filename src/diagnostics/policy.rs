//! What an incident may run: only actions of its service's packs, and a *target* parameter
//! (what the action acts on) only with the service's own value unless `[services.x] allow` lets
//! a person choose another, matched in full. Other parameters may be given within their own
//! patterns. The menu, `/incident run`, the Run button and the run job all ask here, so they
//! agree.

use std::collections::BTreeMap;

use super::{Action, Catalog};
use crate::config::ServiceConfig;

/// The service `name` and the actions it offers, in catalog order; or why it offers none, with
/// how to configure it.
pub fn service_actions<'a>(
    catalog: &'a Catalog,
    name: &str,
    service: Option<&'a ServiceConfig>,
) -> Result<(&'a ServiceConfig, Vec<&'a Action>), String> {
    let Some(service) = service else {
        return Err(format!(
            "`{name}` is not a service in warroom.toml, so it runs no diagnostics. Add `[services.{name}]` with \
             `packs = [...]` (e.g. `[\"http\", \"docker\"]`) and its `params`."
        ));
    };
    if service.packs.is_empty() {
        return Err(format!(
            "`{name}` has no diagnostics packs, so it runs none. Add `packs = [...]` (e.g. `[\"http\", \"docker\"]`) \
             and their `params` under `[services.{name}]` in warroom.toml."
        ));
    }
    Ok((service, catalog.for_packs(&service.packs).collect()))
}

/// Checks a request to run `id` with the `given` values for service `name`; returns the action
/// and every parameter's value, or a refusal that names the parameter and what would allow it.
pub fn bind<'a>(
    catalog: &'a Catalog,
    name: &str,
    service: Option<&ServiceConfig>,
    id: &str,
    given: &BTreeMap<String, String>,
) -> Result<(&'a Action, BTreeMap<String, String>), String> {
    let (service, offered) = service_actions(catalog, name, service)?;
    let Some(action) = catalog.get(id) else {
        return Err(format!("There is no diagnostic `{id}`; `/incident diagnostics` lists them."));
    };
    if !offered.iter().any(|a| a.id == action.id) {
        return Err(format!(
            "`{id}` is not one of `{name}`'s diagnostics (packs: {}). To run it, add its pack `{}` to \
             `[services.{name}] packs` in warroom.toml.",
            service.packs.join(", "),
            action.pack
        ));
    }
    for (param, value) in given {
        let Some(spec) = action.params.get(param).filter(|p| p.target) else { continue };
        let own = service.params.get(param).or(spec.default.as_ref());
        if own == Some(value) || service.allow.permits(param, value) {
            continue;
        }
        let own = own.map_or_else(|| "not set in its `params`".to_string(), |v| format!("`{v}`"));
        return Err(match service.allow.pattern(param) {
            Some(pattern) => format!(
                "`{param}` = `{value}` is not allowed for `{name}`: `[services.{name}] allow` permits only values \
                 matching `{pattern}` in full."
            ),
            None => format!(
                "`{param}` is a target of `{id}`: it takes `{name}`'s own value ({own}), and nobody may point it \
                 elsewhere. To let people choose, add a pattern for it to `[services.{name}] allow` in warroom.toml, \
                 e.g. `allow = {{ {param} = \"^{name}-[a-z0-9-]+$\" }}`."
            ),
        });
    }
    let values = action.resolve_params(&service.params, given)?;
    Ok((action, values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Allow;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn api(allow: &[(&str, &str)]) -> ServiceConfig {
        ServiceConfig {
            packs: vec!["docker".into(), "systemd".into()],
            params: map(&[("container", "api"), ("unit", "api.service")]),
            allow: Allow::from_pairs(allow.iter().copied()).unwrap(),
            ..Default::default()
        }
    }

    fn bind_api(service: &ServiceConfig, id: &str, given: &[(&str, &str)]) -> Result<BTreeMap<String, String>, String> {
        let catalog = Catalog::built_in().unwrap();
        bind(&catalog, "api", Some(service), id, &map(given)).map(|(_, values)| values)
    }

    #[test]
    fn an_action_of_another_pack_is_refused_with_how_to_add_it() {
        let err = bind_api(&api(&[]), "kubernetes.pods", &[]).unwrap_err();
        assert!(err.contains("`kubernetes.pods` is not one of `api`'s diagnostics (packs: docker, systemd)"), "{err}");
        assert!(err.contains("add its pack `kubernetes` to `[services.api] packs`"), "{err}");
    }

    #[test]
    fn a_target_takes_the_services_value_and_another_needs_allow() {
        assert_eq!(bind_api(&api(&[]), "docker.logs", &[]).unwrap()["container"], "api");
        assert_eq!(bind_api(&api(&[]), "docker.logs", &[("container", "api")]).unwrap()["container"], "api");

        let err = bind_api(&api(&[]), "docker.logs", &[("container", "postgres")]).unwrap_err();
        assert!(err.contains("`container` is a target of `docker.logs`: it takes `api`'s own value (`api`)"), "{err}");
        assert!(err.contains("`[services.api] allow`"), "{err}");

        let allowed = api(&[("container", "api-[0-9]+")]);
        assert_eq!(bind_api(&allowed, "docker.logs", &[("container", "api-2")]).unwrap()["container"], "api-2");
        let err = bind_api(&allowed, "docker.logs", &[("container", "postgres")]).unwrap_err();
        assert!(err.contains("permits only values matching `api-[0-9]+` in full"), "{err}");
    }

    #[test]
    fn an_allowed_value_must_still_pass_the_actions_own_pattern() {
        let loose = api(&[("container", ".*")]);
        let err = bind_api(&loose, "docker.logs", &[("container", "a;reboot")]).unwrap_err();
        assert!(err.contains("is not allowed for `docker.logs` (must match"), "{err}");
    }

    #[test]
    fn a_target_with_a_default_is_a_target_too() {
        let mut service = api(&[]);
        service.packs.push("postgres".into());
        assert_eq!(bind_api(&service, "postgres.ready", &[("pg_host", "localhost")]).unwrap()["pg_host"], "localhost");
        assert!(bind_api(&service, "postgres.ready", &[("pg_host", "db.other")]).unwrap_err().contains("is a target"));
    }

    #[test]
    fn other_parameters_may_be_given_within_their_patterns() {
        let since = bind_api(&api(&[]), "systemd.journal", &[("since", "15 minutes ago")]).unwrap();
        assert_eq!(since["since"], "15 minutes ago");
        let err = bind_api(&api(&[]), "systemd.journal", &[("since", "15 minutes ago; reboot")]).unwrap_err();
        assert!(err.contains("is not allowed"), "{err}");
    }

    #[test]
    fn a_service_without_packs_or_config_runs_nothing_and_says_how_to_configure() {
        let catalog = Catalog::built_in().unwrap();
        let bare = ServiceConfig::default();
        let err = bind(&catalog, "api", Some(&bare), "docker.logs", &map(&[])).unwrap_err();
        assert!(err.contains("`api` has no diagnostics packs") && err.contains("`packs = [...]`"), "{err}");
        let err = bind(&catalog, "ghost", None, "docker.logs", &map(&[])).unwrap_err();
        assert!(err.contains("Add `[services.ghost]` with `packs = [...]`"), "{err}");
    }
}
