//! The generic half of `PlanResourceChange`, after terraform-plugin-framework
//! (`fwserver/server_planresourcechange.go`), plus the self-checks the server runs before
//! answering.
//!
//! Order matters and follows the framework: defaults, write-only nulling, then (only when
//! something changed) computed-null-to-unknown marking, then per-attribute modifiers
//! (`use_state_for_unknown`, `requires_replace`), then the resource's own `modify_plan`.
//! The self-checks turn what Terraform would report as a confusing "Provider produced invalid
//! plan / inconsistent result" into a diagnostic that names the attribute and says it is a
//! provider bug.

use super::diag::{AttrPath, Diagnostic, Diagnostics};
use super::resource::{Ctx, Plan, Resource};
use super::schema::{Attribute, Block, NestedBlock, Nesting, Schema};
use super::value::Value;

/// The attributes and blocks of one object level: a block, or a nested attribute's object.
#[derive(Clone, Copy)]
struct Level<'a> {
    attrs: &'a [Attribute],
    blocks: &'a [NestedBlock],
}

impl<'a> Level<'a> {
    fn of(block: &'a Block) -> Level<'a> {
        Level {
            attrs: &block.attributes,
            blocks: &block.blocks,
        }
    }
    fn nested(attrs: &'a [Attribute]) -> Level<'a> {
        Level { attrs, blocks: &[] }
    }
}

/// Runs `f` on every element object of a nested attribute or block value, pairing it with the
/// config and prior element at the same index or key. Set elements have no stable identity, so
/// they are paired by position with config and get no prior.
fn for_each_element(
    nesting: Nesting,
    config: &Value,
    prior: &Value,
    planned: &mut Value,
    path: &AttrPath,
    f: &mut dyn FnMut(&Value, &Value, &mut Value, &AttrPath),
) {
    match (nesting, planned) {
        (Nesting::Single | Nesting::Group, planned @ Value::Object(_)) => f(config, prior, planned, path),
        (Nesting::List, Value::List(items)) => {
            for (i, item) in items.iter_mut().enumerate() {
                let c = config.elements().get(i).unwrap_or(&Value::Null);
                let p = prior.elements().get(i).unwrap_or(&Value::Null);
                f(c, p, item, &path.clone().index(i));
            }
        }
        (Nesting::Set, Value::Set(items)) => {
            for (i, item) in items.iter_mut().enumerate() {
                let c = config.elements().get(i).unwrap_or(&Value::Null);
                f(c, &Value::Null, item, &path.clone().index(i));
            }
        }
        (Nesting::Map, Value::Map(m)) => {
            for (k, item) in m.iter_mut() {
                f(config.get(k), prior.get(k), item, &path.clone().key(k));
            }
        }
        _ => {}
    }
}

/// Step 2 and 3: defaults where the config is null, write-only attributes nulled.
fn apply_defaults(level: Level<'_>, config: &Value, planned: &mut Value) {
    for a in level.attrs {
        let cfg = config.get(&a.name);
        let Some(pl) = planned.get_mut(&a.name) else { return };
        if a.write_only {
            *pl = Value::Null;
            continue;
        }
        if cfg.is_null() && a.computed {
            if let Some(d) = &a.default {
                *pl = d.clone();
                continue;
            }
        }
        if let Some((inner, nesting)) = a.nested_attributes() {
            let root = AttrPath::default();
            for_each_element(nesting, cfg, &Value::Null, pl, &root, &mut |c, _, el, _| {
                apply_defaults(Level::nested(inner), c, el)
            });
        }
    }
    for b in level.blocks {
        let cfg = config.get(&b.type_name);
        if let Some(pl) = planned.get_mut(&b.type_name) {
            let root = AttrPath::default();
            for_each_element(b.nesting, cfg, &Value::Null, pl, &root, &mut |c, _, el, _| {
                apply_defaults(Level::of(&b.block), c, el)
            });
        }
    }
}

/// Step 4: computed attributes the config leaves null become unknown (their value will be
/// decided at apply), except those with a default, which already have their planned value.
fn mark_computed_unknown(level: Level<'_>, config: &Value, planned: &mut Value) {
    for a in level.attrs {
        let cfg = config.get(&a.name);
        let Some(pl) = planned.get_mut(&a.name) else { return };
        if cfg.is_null() && a.computed && a.default.is_none() && !a.write_only {
            *pl = Value::Unknown;
            continue;
        }
        if let Some((inner, nesting)) = a.nested_attributes() {
            let root = AttrPath::default();
            for_each_element(nesting, cfg, &Value::Null, pl, &root, &mut |c, _, el, _| {
                mark_computed_unknown(Level::nested(inner), c, el)
            });
        }
    }
    for b in level.blocks {
        let cfg = config.get(&b.type_name);
        if let Some(pl) = planned.get_mut(&b.type_name) {
            let root = AttrPath::default();
            for_each_element(b.nesting, cfg, &Value::Null, pl, &root, &mut |c, _, el, _| {
                mark_computed_unknown(Level::of(&b.block), c, el)
            });
        }
    }
}

/// Step 5: `use_state_for_unknown` and `requires_replace` (the latter only on update).
fn apply_modifiers(
    level: Level<'_>,
    config: &Value,
    prior: &Value,
    planned: &mut Value,
    path: &AttrPath,
    update: bool,
    replace: &mut Vec<AttrPath>,
) {
    for a in level.attrs {
        let cfg = config.get(&a.name);
        let pr = prior.get(&a.name);
        let here = path.clone().attr(&a.name);
        let Some(pl) = planned.get_mut(&a.name) else { return };
        if a.use_state_for_unknown && pl.is_unknown() && !pr.is_null() && !cfg.is_unknown() {
            *pl = pr.clone();
        }
        if a.requires_replace && update && (pl.is_unknown() || *pl != *pr) {
            replace.push(here.clone());
        }
        if let Some((inner, nesting)) = a.nested_attributes() {
            for_each_element(nesting, cfg, pr, pl, &here, &mut |c, p, el, at| {
                apply_modifiers(Level::nested(inner), c, p, el, at, update && !p.is_null(), replace)
            });
        }
    }
    for b in level.blocks {
        let cfg = config.get(&b.type_name);
        let pr = prior.get(&b.type_name);
        let here = path.clone().attr(&b.type_name);
        if let Some(pl) = planned.get_mut(&b.type_name) {
            for_each_element(b.nesting, cfg, pr, pl, &here, &mut |c, p, el, at| {
                apply_modifiers(Level::of(&b.block), c, p, el, at, update && !p.is_null(), replace)
            });
        }
    }
}

/// Steps 1 to 5: the plan before the resource's own hook. `proposed` null (destroy) plans null.
pub fn plan_generic(schema: &Schema, prior: Value, proposed: Value, config: Value, private: Vec<u8>) -> Plan {
    if proposed.is_null() {
        return Plan {
            prior,
            config,
            planned: Value::Null,
            requires_replace: Vec::new(),
            private,
        };
    }
    let level = Level::of(&schema.block);
    let mut planned = proposed;
    apply_defaults(level, &config, &mut planned);
    if prior.is_null() || planned != prior {
        mark_computed_unknown(level, &config, &mut planned);
    }
    let mut requires_replace = Vec::new();
    let update = !prior.is_null();
    apply_modifiers(
        level,
        &config,
        &prior,
        &mut planned,
        &AttrPath::default(),
        update,
        &mut requires_replace,
    );
    Plan {
        prior,
        config,
        planned,
        requires_replace,
        private,
    }
}

/// The whole planning: generic steps, the resource hook (not called for destroys, whose plan
/// must stay null), requires_replace sorted and deduplicated, then the self-check.
pub async fn plan_resource(
    resource: &dyn Resource,
    ctx: &Ctx,
    schema: &Schema,
    prior: Value,
    proposed: Value,
    config: Value,
    private: Vec<u8>,
) -> (Plan, Diagnostics) {
    let mut plan = plan_generic(schema, prior, proposed, config, private);
    if plan.planned.is_null() {
        return (plan, Diagnostics::new());
    }
    let mut diags = resource.modify_plan(ctx, &mut plan).await;
    plan.requires_replace.sort_by_key(|p| p.to_string());
    plan.requires_replace.dedup();
    if plan.is_create() {
        // Terraform ignores replacement paths on create; keep the response minimal.
        plan.requires_replace.clear();
    }
    if !diags.has_errors() {
        diags.extend(check_plan(schema, &plan.config, &plan.prior, &plan.planned));
    }
    (plan, diags)
}

// ---------------------------------------------------------------------------------------------
// Self-checks

fn bug(summary: &str, path: &AttrPath, detail: String) -> Diagnostic {
    let detail = format!(
        "{detail}\n\nThis is a bug in the provider, not in your configuration; please report it \
         with the resource type and this message."
    );
    let d = Diagnostic::error(format!("Provider bug: {summary}"), detail);
    if path.0.is_empty() {
        d
    } else {
        d.at(path.clone())
    }
}

/// Checks a plan against Terraform's rules: non-computed attributes equal to config, or to the
/// prior value when both are set (a semantically equal value kept to avoid a diff), recursing
/// into nested attributes and blocks; write-only attributes null.
pub fn check_plan(schema: &Schema, config: &Value, prior: &Value, planned: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    if !planned.is_null() {
        let root = AttrPath::default();
        check_plan_level(Level::of(&schema.block), config, prior, planned, &root, &mut diags);
    }
    diags
}

fn check_plan_level(
    level: Level<'_>,
    config: &Value,
    prior: &Value,
    planned: &Value,
    path: &AttrPath,
    diags: &mut Diagnostics,
) {
    for a in level.attrs {
        let cfg = config.get(&a.name);
        let pr = prior.get(&a.name);
        let pl = planned.get(&a.name);
        let here = path.clone().attr(&a.name);
        if a.write_only {
            if !pl.is_null() {
                let detail = "A write-only attribute must plan null.".to_string();
                diags.push(bug("write-only attribute planned", &here, detail));
            }
            continue;
        }
        if a.computed && cfg.is_null() {
            continue;
        }
        let comparable = !pl.is_unknown() && !cfg.is_unknown() && !pl.is_null() && !cfg.is_null();
        match a.nested_attributes() {
            Some((inner, nesting)) if comparable => {
                check_elements(nesting, cfg, pr, pl, &here, diags, &mut |c, r, p, at, d| {
                    check_plan_level(Level::nested(inner), c, r, p, at, d)
                })
            }
            _ => {
                let kept_prior = !cfg.is_null() && !pr.is_null() && pl == pr;
                if pl != cfg && !kept_prior {
                    let detail = format!("The plan for `{here}` must equal its configured value.");
                    diags.push(bug("planned value differs from configuration", &here, detail));
                }
            }
        }
    }
    for b in level.blocks {
        let cfg = config.get(&b.type_name);
        let pr = prior.get(&b.type_name);
        let pl = planned.get(&b.type_name);
        let here = path.clone().attr(&b.type_name);
        if pl.is_unknown() {
            let detail = "A nested block may never be unknown.".to_string();
            diags.push(bug("block planned unknown", &here, detail));
            continue;
        }
        check_elements(b.nesting, cfg, pr, pl, &here, diags, &mut |c, r, p, at, d| {
            check_plan_level(Level::of(&b.block), c, r, p, at, d)
        });
    }
}

/// The check run on one element: config, prior, planned.
type ElementCheck<'a> = dyn FnMut(&Value, &Value, &Value, &AttrPath, &mut Diagnostics) + 'a;

/// Pairs config and planned elements (counts and keys must agree) with the prior element at
/// the same index or key, and runs `f` on each.
fn check_elements(
    nesting: Nesting,
    config: &Value,
    prior: &Value,
    planned: &Value,
    path: &AttrPath,
    diags: &mut Diagnostics,
    f: &mut ElementCheck<'_>,
) {
    match nesting {
        Nesting::Single | Nesting::Group => {
            if planned.is_null() != config.is_null() && nesting == Nesting::Single {
                let detail = format!("`{path}` must match the config.");
                diags.push(bug("planned block presence differs", path, detail));
            } else if !planned.is_null() {
                f(config, prior, planned, path, diags)
            }
        }
        Nesting::List | Nesting::Set => {
            let (c, p) = (config.elements(), planned.elements());
            if c.len() != p.len() {
                let detail = format!("`{path}` has {} elements in config but {} planned.", c.len(), p.len());
                diags.push(bug("planned element count differs", path, detail));
            } else if nesting == Nesting::List {
                for (i, (ce, pe)) in c.iter().zip(p).enumerate() {
                    let re = prior.elements().get(i).unwrap_or(&Value::Null);
                    f(ce, re, pe, &path.clone().index(i), diags);
                }
            }
        }
        Nesting::Map => {
            let (Some(c), Some(p)) = (config.entries(), planned.entries()) else {
                return;
            };
            if c.keys().ne(p.keys()) {
                let detail = format!("`{path}` keys must match the config.");
                diags.push(bug("planned keys differ", path, detail));
                return;
            }
            for (k, ce) in c {
                let pe = p.get(k).unwrap_or(&Value::Null);
                f(ce, prior.get(k), pe, &path.clone().key(k), diags);
            }
        }
    }
}

/// Checks a state returned by apply or read: wholly known, write-only attributes null, and
/// (apply only, `planned` given) every known planned value unchanged.
pub fn check_state(schema: &Schema, planned: Option<&Value>, state: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    if state.is_null() {
        return diags;
    }
    find_unknowns(state, &AttrPath::default(), &mut diags);
    check_write_only(Level::of(&schema.block), state, &AttrPath::default(), &mut diags);
    if let Some(planned) = planned {
        if !planned.is_null() {
            compare_known(planned, state, &AttrPath::default(), &mut diags);
        }
    }
    diags
}

fn find_unknowns(v: &Value, path: &AttrPath, diags: &mut Diagnostics) {
    match v {
        Value::Unknown => diags.push(bug(
            "unknown value in state",
            path,
            format!("`{path}` is still unknown after the operation; every value must be known."),
        )),
        Value::List(items) | Value::Set(items) | Value::Tuple(items) => {
            for (i, x) in items.iter().enumerate() {
                find_unknowns(x, &path.clone().index(i), diags);
            }
        }
        Value::Object(m) => m
            .iter()
            .for_each(|(k, x)| find_unknowns(x, &path.clone().attr(k), diags)),
        Value::Map(m) => m
            .iter()
            .for_each(|(k, x)| find_unknowns(x, &path.clone().key(k), diags)),
        Value::Dynamic(_, x) => find_unknowns(x, path, diags),
        _ => {}
    }
}

fn check_write_only(level: Level<'_>, state: &Value, path: &AttrPath, diags: &mut Diagnostics) {
    for a in level.attrs {
        let here = path.clone().attr(&a.name);
        let v = state.get(&a.name);
        if a.write_only && !v.is_null() {
            diags.push(bug(
                "write-only attribute stored",
                &here,
                "Write-only attributes must be null in state.".into(),
            ));
        } else if let Some((inner, nesting)) = a.nested_attributes() {
            each_element(nesting, v, &here, &mut |el, at| {
                check_write_only(Level::nested(inner), el, at, diags)
            });
        }
    }
    for b in level.blocks {
        let here = path.clone().attr(&b.type_name);
        each_element(b.nesting, state.get(&b.type_name), &here, &mut |el, at| {
            check_write_only(Level::of(&b.block), el, at, diags)
        });
    }
}

fn each_element(nesting: Nesting, v: &Value, path: &AttrPath, f: &mut dyn FnMut(&Value, &AttrPath)) {
    match nesting {
        Nesting::Single | Nesting::Group => f(v, path),
        Nesting::List | Nesting::Set => {
            v.elements()
                .iter()
                .enumerate()
                .for_each(|(i, el)| f(el, &path.clone().index(i)));
        }
        Nesting::Map => {
            if let Some(m) = v.entries() {
                m.iter().for_each(|(k, el)| f(el, &path.clone().key(k)));
            }
        }
    }
}

/// Every known planned value must come back identical; unknowns may become anything.
fn compare_known(planned: &Value, new: &Value, path: &AttrPath, diags: &mut Diagnostics) {
    let differs = |diags: &mut Diagnostics| {
        diags.push(bug(
            "applied value differs from plan",
            path,
            format!(
                "`{}` was planned as a known value but apply returned a different one.",
                display(path)
            ),
        ))
    };
    match (planned, new) {
        (Value::Unknown, _) => {}
        (Value::Object(a), Value::Object(b)) => {
            for (k, pv) in a {
                compare_known(pv, b.get(k).unwrap_or(&Value::Null), &path.clone().attr(k), diags);
            }
        }
        (Value::Map(a), Value::Map(b)) => {
            if a.keys().ne(b.keys()) && planned.is_wholly_known() {
                return differs(diags);
            }
            for (k, pv) in a {
                compare_known(pv, b.get(k).unwrap_or(&Value::Null), &path.clone().key(k), diags);
            }
        }
        (Value::List(a), Value::List(b)) | (Value::Tuple(a), Value::Tuple(b)) => {
            if a.len() != b.len() {
                return differs(diags);
            }
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                compare_known(x, y, &path.clone().index(i), diags);
            }
        }
        // Sets with unknowns inside cannot be paired element by element.
        (Value::Set(_), Value::Set(_)) if !planned.is_wholly_known() => {}
        _ => {
            if planned != new {
                differs(diags)
            }
        }
    }
}

fn display(path: &AttrPath) -> String {
    if path.0.is_empty() {
        "the object".to_string()
    } else {
        path.to_string()
    }
}

/// A state a resource or data source returned, made fit to store: checked ([`check_state`],
/// the problems added to `diags`), and on an error with its unknowns nulled so Terraform keeps
/// it (tainted) instead of dropping it.
pub fn settle_state(schema: &Schema, planned: Option<&Value>, mut state: Value, diags: &mut Diagnostics) -> Value {
    let check = check_state(schema, planned, &state);
    if check.has_errors() {
        unknowns_to_null(&mut state);
    }
    diags.extend(check);
    state
}

/// Replaces every unknown in `v` with null, so a state that failed [`check_state`] can still be
/// stored (tainted) instead of making Terraform drop it.
pub fn unknowns_to_null(v: &mut Value) {
    match v {
        Value::Unknown => *v = Value::Null,
        Value::List(items) | Value::Set(items) | Value::Tuple(items) => items.iter_mut().for_each(unknowns_to_null),
        Value::Object(m) | Value::Map(m) => m.values_mut().for_each(unknowns_to_null),
        Value::Dynamic(_, x) => unknowns_to_null(x),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::schema::timeouts_block;

    fn schema() -> Schema {
        Schema::new(
            Block::new(vec![
                Attribute::string("id").computed().use_state_for_unknown(),
                Attribute::string("name").required().requires_replace(),
                Attribute::string("description").optional(),
                Attribute::string("status").computed(),
                Attribute::bool("fail").default(true),
                Attribute::string("secret").optional().write_only(),
                Attribute::single(
                    "admin",
                    vec![
                        Attribute::string("param").required(),
                        Attribute::string("user").optional().computed(),
                    ],
                )
                .optional(),
                Attribute::list_of(
                    "items",
                    vec![Attribute::string("url").required(), Attribute::number("n").computed()],
                )
                .optional(),
            ])
            .with_block(timeouts_block(&["create"])),
        )
    }

    fn config() -> Value {
        Value::object([
            ("name", Value::string("a")),
            ("secret", Value::string("s3cret")),
            (
                "admin",
                Value::object([("param", Value::string("/p")), ("user", Value::Null)]),
            ),
            (
                "items",
                Value::List(vec![Value::object([("url", Value::string("u")), ("n", Value::Null)])]),
            ),
            ("timeouts", Value::Null),
        ])
    }

    #[test]
    fn destroy_plans_null() {
        let p = plan_generic(&schema(), config(), Value::Null, Value::Null, b"x".to_vec());
        assert!(p.planned.is_null());
        assert_eq!(p.private, b"x");
    }

    #[test]
    fn create_marks_computed_unknown_and_applies_defaults() {
        let c = config();
        let p = plan_generic(&schema(), Value::Null, c.clone(), c.clone(), vec![]);
        assert!(p.planned.get("id").is_unknown());
        assert!(p.planned.get("status").is_unknown());
        assert_eq!(p.planned.get("fail"), &Value::Bool(true));
        assert!(p.planned.get("secret").is_null(), "write-only must plan null");
        assert!(p.planned.get("description").is_null());
        assert!(p.planned.get("admin").get("user").is_unknown());
        assert!(p.planned.get("items").elements()[0].get("n").is_unknown());
        assert!(p.requires_replace.is_empty(), "no replacement on create");
        assert!(
            check_plan(&schema(), &c, &Value::Null, &p.planned).is_empty(),
            "{}",
            check_plan(&schema(), &c, &Value::Null, &p.planned)
        );
    }

    fn prior() -> Value {
        Value::object([
            ("id", Value::string("i-1")),
            ("name", Value::string("a")),
            ("status", Value::string("ok")),
            ("fail", Value::Bool(true)),
            (
                "admin",
                Value::object([("param", Value::string("/p")), ("user", Value::string("root"))]),
            ),
            (
                "items",
                Value::List(vec![Value::object([("url", Value::string("u")), ("n", Value::int(3))])]),
            ),
        ])
    }

    /// Terraform's proposed new state: config with prior values for computed attributes.
    fn proposed(config: &Value) -> Value {
        let mut p = config.clone();
        p.set("id", Value::string("i-1"));
        p.set("status", Value::string("ok"));
        p.set("fail", Value::Bool(true));
        p.set(
            "admin",
            Value::object([("param", Value::string("/p")), ("user", Value::string("root"))]),
        );
        p.set("items", prior().get("items").clone());
        p
    }

    #[test]
    fn no_change_keeps_prior_values() {
        let c = config();
        let p = plan_generic(&schema(), prior(), proposed(&c), c, vec![]);
        assert_eq!(p.planned.get("status"), &Value::string("ok"));
        assert!(p.requires_replace.is_empty());
        assert_eq!(p.planned, {
            let mut x = prior();
            x.set("secret", Value::Null);
            x
        });
    }

    #[test]
    fn update_marks_unknown_keeps_state_for_unknown_and_replaces() {
        let mut c = config();
        c.set("name", Value::string("b"));
        c.set("description", Value::string("new"));
        let p = plan_generic(&schema(), prior(), proposed(&c), c.clone(), vec![]);
        assert_eq!(p.planned.get("id"), &Value::string("i-1"), "use_state_for_unknown");
        assert!(p.planned.get("status").is_unknown());
        assert_eq!(p.requires_replace, vec![AttrPath::root("name")]);
        assert!(check_plan(&schema(), &c, &prior(), &p.planned).is_empty());
    }

    #[test]
    fn requires_replace_when_unknown() {
        let mut c = config();
        c.set("name", Value::Unknown);
        let p = plan_generic(&schema(), prior(), proposed(&c), c, vec![]);
        assert_eq!(p.requires_replace, vec![AttrPath::root("name")]);
    }

    #[test]
    fn check_plan_catches_non_computed_drift() {
        let c = config();
        let mut planned = plan_generic(&schema(), Value::Null, c.clone(), c.clone(), vec![]).planned;
        planned.set("description", Value::string("normalised"));
        let d = check_plan(&schema(), &c, &Value::Null, &planned);
        assert!(d.has_errors());
        let first = &d.0[0];
        assert!(first.summary.contains("Provider bug"));
        assert_eq!(first.attribute, Some(AttrPath::root("description")));

        let mut planned2 = plan_generic(&schema(), Value::Null, c.clone(), c.clone(), vec![]).planned;
        planned2.set("secret", Value::string("x"));
        assert!(check_plan(&schema(), &c, &Value::Null, &planned2).has_errors());

        let mut planned3 = plan_generic(&schema(), Value::Null, c.clone(), c.clone(), vec![]).planned;
        planned3.set("items", Value::List(vec![]));
        assert!(check_plan(&schema(), &c, &Value::Null, &planned3).has_errors());
    }

    #[test]
    fn check_plan_allows_semantically_equal_prior() {
        let mut c = config();
        c.set("description", Value::string("60s"));
        let mut pr = prior();
        pr.set("description", Value::string("1m"));
        let mut planned = plan_generic(&schema(), pr.clone(), proposed(&c), c.clone(), vec![]).planned;
        planned.set("description", Value::string("1m"));
        assert!(check_plan(&schema(), &c, &pr, &planned).is_empty());
        planned.set("description", Value::string("2m"));
        assert!(check_plan(&schema(), &c, &pr, &planned).has_errors());
    }

    #[test]
    fn check_state_rules() {
        let s = schema();
        let c = config();
        let planned = plan_generic(&s, Value::Null, c.clone(), c, vec![]).planned;
        let mut good = prior();
        good.set("secret", Value::Null);
        assert!(
            check_state(&s, Some(&planned), &good).is_empty(),
            "{}",
            check_state(&s, Some(&planned), &good)
        );

        let mut unknown = good.clone();
        unknown.set("status", Value::Unknown);
        let d = check_state(&s, Some(&planned), &unknown);
        assert!(d.has_errors());
        assert_eq!(d.0[0].attribute, Some(AttrPath::root("status")));

        let mut changed = good.clone();
        changed.set("name", Value::string("zzz"));
        assert!(check_state(&s, Some(&planned), &changed).has_errors());

        let mut wo = good.clone();
        wo.set("secret", Value::string("leak"));
        assert!(check_state(&s, None, &wo).has_errors());

        unknowns_to_null(&mut unknown);
        assert!(unknown.is_wholly_known());
    }
}
