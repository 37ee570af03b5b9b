//! What Terragrunt does with a unit's `terragrunt.hcl`, for a tree that uses the features of
//! `examples/terragrunt` — no Terragrunt binary can be installed here, so the tests read the
//! files with a real HCL parser (`hcl-rs`) and evaluate them the way Terragrunt documents:
//!
//! - `include "<name>" { path, expose }`: the included file's `locals` are evaluated in the
//!   unit's context (its `find_in_parent_folders` starts from the unit), its `remote_state`,
//!   `generate`, `inputs` and `terraform` merge under the unit's, and with `expose = true` the
//!   unit sees `include.<name>.locals`;
//! - `locals` in any order (they may refer to each other), `read_terragrunt_config(path)` (a
//!   file's `locals` and `inputs`), `find_in_parent_folders([name])` (from the parent of the
//!   unit's directory upwards; the name may contain a `/`), `get_terragrunt_dir()`,
//!   `get_parent_terragrunt_dir()`, `path_relative_to_include()`, `get_env(name[, default])`
//!   (from the environment the test hands in, not the process's);
//! - `terraform { source }` with a local path and the `//` subdirectory separator;
//! - `exclude { if, actions }`; `dependency "<name>" { config_path, mock_outputs,
//!   mock_outputs_allowed_terraform_commands }`, with Terragrunt's rule for mocks: a dependency's
//!   real outputs when it has any, else its mocks when the command is allowed, else an error;
//! - `inputs`, handed to Terraform as `TF_VAR_<name>` (strings as they are, everything else as
//!   JSON), which is how Terragrunt passes them.
//!
//! Any other function or block makes evaluation fail, naming it, rather than guessing.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};
use hcl::{Block, Body, Expression};
use serde_json::{Map as JsonMap, Value as Json};

/// The evaluation frame Terragrunt's functions read: the unit's config path, the included
/// (parent) config, the environment, and every file a function resolved.
#[derive(Clone, Default)]
struct Frame {
    config: PathBuf,
    parent: Option<PathBuf>,
    env: BTreeMap<String, String>,
}

thread_local! {
    static FRAMES: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
    static READS: RefCell<Vec<PathBuf>> = const { RefCell::new(Vec::new()) };
}

fn frame() -> Result<Frame, String> {
    FRAMES
        .with(|f| f.borrow().last().cloned())
        .ok_or_else(|| "no evaluation frame".to_string())
}

/// Runs `f` with `frame` on top of the frame stack.
fn with_frame<T>(frame: Frame, f: impl FnOnce() -> T) -> T {
    FRAMES.with(|s| s.borrow_mut().push(frame));
    let out = f();
    FRAMES.with(|s| s.borrow_mut().pop());
    out
}

fn record_read(path: &Path) {
    READS.with(|r| r.borrow_mut().push(path.to_path_buf()));
}

/// `a/b/../c` → `a/c` without touching the file system.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn dir_of(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

fn string_arg(args: &FuncArgs, i: usize) -> Option<String> {
    args.get(i).and_then(|v| v.as_str()).map(str::to_string)
}

fn find_in_parent_folders(args: FuncArgs) -> Result<hcl::Value, String> {
    let f = frame()?;
    let name = string_arg(&args, 0).unwrap_or_else(|| "terragrunt.hcl".to_string());
    let mut dir = dir_of(&f.config);
    while let Some(parent) = dir.parent().map(Path::to_path_buf) {
        let candidate = parent.join(&name);
        if candidate.exists() {
            record_read(&candidate);
            return Ok(candidate.display().to_string().into());
        }
        dir = parent;
    }
    Err(format!(
        "find_in_parent_folders({name:?}): not found above {}",
        dir_of(&f.config).display()
    ))
}

fn read_terragrunt_config(args: FuncArgs) -> Result<hcl::Value, String> {
    let f = frame()?;
    let arg = string_arg(&args, 0).ok_or("read_terragrunt_config needs a path")?;
    let path = normalize(&dir_of(&f.config).join(arg));
    record_read(&path);
    let body = parse_file(&path)?;
    let inner = Frame {
        config: path.clone(),
        parent: None,
        env: f.env.clone(),
    };
    let (locals, inputs) = with_frame(inner, || -> Result<_, String> {
        let locals = eval_locals(&body, &BTreeMap::new())?;
        let mut vars = BTreeMap::new();
        vars.insert("local".to_string(), Json::Object(locals.clone()));
        let inputs = match body.attributes().find(|a| a.key() == "inputs") {
            Some(a) => eval(a.expr(), &vars)?,
            None => Json::Object(JsonMap::new()),
        };
        Ok((locals, inputs))
    })
    .map_err(|e| format!("read_terragrunt_config({}): {e}", path.display()))?;
    let doc = serde_json::json!({ "locals": locals, "inputs": inputs });
    hcl::to_value(doc).map_err(|e| e.to_string())
}

fn get_terragrunt_dir(_: FuncArgs) -> Result<hcl::Value, String> {
    Ok(dir_of(&frame()?.config).display().to_string().into())
}

fn get_parent_terragrunt_dir(_: FuncArgs) -> Result<hcl::Value, String> {
    let f = frame()?;
    let parent = f.parent.unwrap_or(f.config);
    Ok(dir_of(&parent).display().to_string().into())
}

fn path_relative_to_include(_: FuncArgs) -> Result<hcl::Value, String> {
    let f = frame()?;
    let Some(parent) = f.parent else {
        return Ok(".".into());
    };
    let unit = dir_of(&f.config);
    let rel = unit
        .strip_prefix(dir_of(&parent))
        .map_err(|_| format!("{} is not below {}", unit.display(), parent.display()))?;
    Ok(rel.display().to_string().into())
}

fn get_env(args: FuncArgs) -> Result<hcl::Value, String> {
    let f = frame()?;
    let name = string_arg(&args, 0).ok_or("get_env needs a name")?;
    match (f.env.get(&name), string_arg(&args, 1)) {
        (Some(v), _) => Ok(v.clone().into()),
        (None, Some(default)) => Ok(default.into()),
        (None, None) => Err(format!("get_env({name:?}): not set and no default")),
    }
}

fn context(vars: &BTreeMap<String, Json>) -> Result<Context<'static>, String> {
    let mut ctx = Context::new();
    let optional_string = || FuncDef::builder().variadic_param(ParamType::String);
    ctx.declare_func(
        "find_in_parent_folders",
        optional_string().build(find_in_parent_folders),
    );
    ctx.declare_func(
        "read_terragrunt_config",
        FuncDef::builder()
            .param(ParamType::String)
            .build(read_terragrunt_config),
    );
    ctx.declare_func("get_terragrunt_dir", FuncDef::builder().build(get_terragrunt_dir));
    ctx.declare_func(
        "get_parent_terragrunt_dir",
        optional_string().build(get_parent_terragrunt_dir),
    );
    ctx.declare_func(
        "path_relative_to_include",
        optional_string().build(path_relative_to_include),
    );
    ctx.declare_func(
        "get_env",
        FuncDef::builder()
            .param(ParamType::String)
            .variadic_param(ParamType::String)
            .build(get_env),
    );
    for (name, value) in vars {
        ctx.declare_var(name.as_str(), hcl::to_value(value).map_err(|e| e.to_string())?);
    }
    Ok(ctx)
}

fn eval(expr: &Expression, vars: &BTreeMap<String, Json>) -> Result<Json, String> {
    let ctx = context(vars)?;
    let value = expr.evaluate(&ctx).map_err(|e| e.to_string())?;
    serde_json::to_value(value).map_err(|e| e.to_string())
}

/// Parses one file with the HCL parser; the error names the file.
pub fn parse_file(path: &Path) -> Result<Body, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    hcl::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Evaluates a body's `locals` block, in whatever order they resolve (they may refer to each
/// other and to `vars`).
fn eval_locals(body: &Body, vars: &BTreeMap<String, Json>) -> Result<JsonMap<String, Json>, String> {
    let mut pending: Vec<(String, Expression)> = body
        .blocks()
        .filter(|b| b.identifier() == "locals")
        .flat_map(|b| b.body().attributes().map(|a| (a.key().to_string(), a.expr().clone())))
        .collect();
    let mut locals = JsonMap::new();
    while !pending.is_empty() {
        let before = pending.len();
        let mut errors = Vec::new();
        let mut next = Vec::new();
        for (name, expr) in pending {
            let mut scope = vars.clone();
            scope.insert("local".into(), Json::Object(locals.clone()));
            match eval(&expr, &scope) {
                Ok(v) => {
                    locals.insert(name, v);
                }
                Err(e) => {
                    errors.push(format!("local.{name}: {e}"));
                    next.push((name, expr));
                }
            }
        }
        if next.len() == before {
            // Nothing resolved in this pass: what is left never will.
            return Err(errors.join("; "));
        }
        pending = next;
    }
    Ok(locals)
}

fn label(block: &Block) -> String {
    block
        .labels()
        .first()
        .map(|l| l.as_str().to_string())
        .unwrap_or_default()
}

fn attr<'a>(body: &'a Body, name: &str) -> Option<&'a Expression> {
    body.attributes().find(|a| a.key() == name).map(|a| a.expr())
}

fn block<'a>(body: &'a Body, name: &str) -> Option<&'a Block> {
    body.blocks().find(|b| b.identifier() == name)
}

/// Blocks and attributes a unit (or the file it includes) may hold here.
const KNOWN_BLOCKS: [&str; 7] = [
    "include",
    "locals",
    "terraform",
    "exclude",
    "dependency",
    "remote_state",
    "generate",
];
const KNOWN_ATTRIBUTES: [&str; 1] = ["inputs"];

fn check_known(body: &Body, path: &Path) -> Result<(), String> {
    for b in body.blocks() {
        if !KNOWN_BLOCKS.contains(&b.identifier()) {
            return Err(format!(
                "{}: block {:?} is not emulated",
                path.display(),
                b.identifier()
            ));
        }
    }
    for a in body.attributes() {
        if !KNOWN_ATTRIBUTES.contains(&a.key()) {
            return Err(format!("{}: attribute {:?} is not emulated", path.display(), a.key()));
        }
    }
    Ok(())
}

/// One `dependency` block.
#[derive(Debug, Clone)]
pub struct Dependency {
    pub name: String,
    /// The dependency unit's directory.
    pub config_path: PathBuf,
    pub mock_outputs: Option<JsonMap<String, Json>>,
    pub mock_allowed: Vec<String>,
}

/// The `remote_state` block.
#[derive(Debug, Clone)]
pub struct RemoteState {
    pub backend: String,
    /// Where Terragrunt generates the backend block (`generate.path`).
    pub generate_path: String,
    pub config: JsonMap<String, Json>,
}

/// A unit as Terragrunt reads it, before dependency outputs are known.
pub struct Unit {
    pub dir: PathBuf,
    pub config: PathBuf,
    /// The included file (`include "<name>"`), if any.
    pub include: Option<(String, PathBuf)>,
    pub locals: JsonMap<String, Json>,
    /// The module directory `terraform.source` names (after the `//` subdirectory).
    pub source: PathBuf,
    pub excluded: bool,
    pub dependencies: Vec<Dependency>,
    pub remote_state: Option<RemoteState>,
    /// `generate` blocks: file name → contents.
    pub generate: BTreeMap<String, String>,
    /// Every file a function resolved while reading the unit.
    pub files_read: BTreeSet<PathBuf>,
    inputs: Vec<Expression>,
    vars: BTreeMap<String, Json>,
    frame: Frame,
}

impl Unit {
    /// Reads the unit in `dir` (its `terragrunt.hcl`), with `env` as the environment `get_env`
    /// sees.
    pub fn load(dir: &Path, env: &BTreeMap<String, String>) -> Result<Unit, String> {
        READS.with(|r| r.borrow_mut().clear());
        let config = normalize(&dir.join("terragrunt.hcl"));
        let body = parse_file(&config)?;
        check_known(&body, &config)?;
        let mut frame = Frame {
            config: config.clone(),
            parent: None,
            env: env.clone(),
        };

        // The included file, evaluated in the unit's context.
        let mut vars = BTreeMap::new();
        let mut include = None;
        let mut parent_body = None;
        let mut parent_locals = JsonMap::new();
        if let Some(inc) = block(&body, "include") {
            let name = label(inc);
            let path_expr = attr(inc.body(), "path").ok_or("include without path")?;
            let path = with_frame(frame.clone(), || eval(path_expr, &BTreeMap::new()))?;
            let path = normalize(&dir.join(path.as_str().ok_or("include path is not a string")?));
            let pbody = parse_file(&path)?;
            check_known(&pbody, &path)?;
            frame.parent = Some(path.clone());
            parent_locals = with_frame(frame.clone(), || eval_locals(&pbody, &BTreeMap::new()))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let expose = attr(inc.body(), "expose").is_some_and(|e| matches!(e, Expression::Bool(true)));
            if expose {
                vars.insert(
                    "include".to_string(),
                    serde_json::json!({ name.clone(): { "locals": parent_locals.clone() } }),
                );
            }
            include = Some((name, path));
            parent_body = Some(pbody);
        }

        let locals = with_frame(frame.clone(), || eval_locals(&body, &vars))
            .map_err(|e| format!("{}: {e}", config.display()))?;
        vars.insert("local".to_string(), Json::Object(locals.clone()));
        let in_unit = |expr: &Expression| with_frame(frame.clone(), || eval(expr, &vars));
        let mut parent_vars = BTreeMap::new();
        parent_vars.insert("local".to_string(), Json::Object(parent_locals));
        let in_parent = |expr: &Expression| with_frame(frame.clone(), || eval(expr, &parent_vars));

        // terraform { source }: the unit's, else the included file's.
        let (source_expr, from_unit) = match block(&body, "terraform").and_then(|t| attr(t.body(), "source")) {
            Some(e) => (e, true),
            None => (
                parent_body
                    .as_ref()
                    .and_then(|p| block(p, "terraform"))
                    .and_then(|t| attr(t.body(), "source"))
                    .ok_or_else(|| format!("{}: no terraform.source", config.display()))?,
                false,
            ),
        };
        let source = if from_unit {
            in_unit(source_expr)?
        } else {
            in_parent(source_expr)?
        };
        let source = source.as_str().ok_or("terraform.source is not a string")?.to_string();
        let (base, sub) = source.split_once("//").unwrap_or((&source, ""));
        let source = normalize(&dir.join(base).join(sub));

        let excluded = match block(&body, "exclude") {
            Some(ex) => {
                let cond = in_unit(attr(ex.body(), "if").ok_or("exclude without if")?)?;
                let actions = match attr(ex.body(), "actions") {
                    Some(a) => in_unit(a)?,
                    None => Json::Null,
                };
                cond == Json::Bool(true) && actions.as_array().is_some_and(|a| a.iter().any(|x| x == "all"))
            }
            None => false,
        };

        let mut dependencies = Vec::new();
        for dep in body.blocks().filter(|b| b.identifier() == "dependency") {
            let path = in_unit(attr(dep.body(), "config_path").ok_or("dependency without config_path")?)?;
            let path = normalize(&dir.join(path.as_str().ok_or("config_path is not a string")?));
            let mock_outputs = match attr(dep.body(), "mock_outputs") {
                Some(e) => Some(
                    in_unit(e)?
                        .as_object()
                        .cloned()
                        .ok_or("mock_outputs is not an object")?,
                ),
                None => None,
            };
            let mock_allowed = match attr(dep.body(), "mock_outputs_allowed_terraform_commands") {
                Some(e) => in_unit(e)?
                    .as_array()
                    .map(|a| a.iter().filter_map(|c| c.as_str().map(str::to_string)).collect())
                    .unwrap_or_default(),
                None => Vec::new(),
            };
            dependencies.push(Dependency {
                name: label(dep),
                config_path: path,
                mock_outputs,
                mock_allowed,
            });
        }

        // remote_state and generate: the unit's own, else the included file's.
        let pick = |name: &str| -> Option<(&Block, bool)> {
            block(&body, name)
                .map(|b| (b, true))
                .or_else(|| parent_body.as_ref().and_then(|p| block(p, name)).map(|b| (b, false)))
        };
        let remote_state = match pick("remote_state") {
            Some((rs, own)) => {
                let ev = |e: &Expression| if own { in_unit(e) } else { in_parent(e) };
                let backend = ev(attr(rs.body(), "backend").ok_or("remote_state without backend")?)?;
                let generate = match attr(rs.body(), "generate") {
                    Some(g) => ev(g)?,
                    None => Json::Null,
                };
                let config = ev(attr(rs.body(), "config").ok_or("remote_state without config")?)?;
                Some(RemoteState {
                    backend: backend.as_str().unwrap_or_default().to_string(),
                    generate_path: generate["path"].as_str().unwrap_or("backend.tf").to_string(),
                    config: config.as_object().cloned().unwrap_or_default(),
                })
            }
            None => None,
        };
        let mut generate = BTreeMap::new();
        let parent_generates = parent_body.iter().flat_map(|p| p.blocks()).map(|b| (b, false));
        for (g, own) in parent_generates.chain(body.blocks().map(|b| (b, true))) {
            if g.identifier() != "generate" {
                continue;
            }
            let ev = |e: &Expression| if own { in_unit(e) } else { in_parent(e) };
            let path = ev(attr(g.body(), "path").ok_or("generate without path")?)?;
            let contents = ev(attr(g.body(), "contents").ok_or("generate without contents")?)?;
            generate.insert(
                path.as_str().unwrap_or_default().to_string(),
                contents.as_str().unwrap_or_default().to_string(),
            );
        }

        let mut inputs = Vec::new();
        if let Some(e) = parent_body.as_ref().and_then(|p| attr(p, "inputs")) {
            // The included file's inputs, evaluated with its own locals, merge under the unit's.
            inputs.push(hcl::to_expression(in_parent(e)?).map_err(|e| e.to_string())?);
        }
        if let Some(e) = attr(&body, "inputs") {
            inputs.push(e.clone());
        }

        let mut files_read: BTreeSet<PathBuf> = READS.with(|r| r.borrow().iter().map(|p| normalize(p)).collect());
        files_read.insert(config.clone());
        if let Some((_, p)) = &include {
            files_read.insert(p.clone());
        }
        Ok(Unit {
            dir: normalize(dir),
            config,
            include,
            locals,
            source,
            excluded,
            dependencies,
            remote_state,
            generate,
            files_read,
            inputs,
            vars,
            frame,
        })
    }

    /// The outputs Terragrunt hands the unit for dependency `dep` when running `command`: the
    /// dependency's real outputs when it has any, else its mocks if `command` may use them.
    pub fn dependency_outputs(
        &self,
        dep: &Dependency,
        real: &JsonMap<String, Json>,
        command: &str,
    ) -> Result<JsonMap<String, Json>, String> {
        if !real.is_empty() {
            return Ok(real.clone());
        }
        match &dep.mock_outputs {
            Some(mocks) if dep.mock_allowed.iter().any(|c| c == command) => Ok(mocks.clone()),
            _ => Err(format!(
                "{}: dependency {:?} ({}) has no outputs and no mock_outputs allowed for {command}",
                self.config.display(),
                dep.name,
                dep.config_path.display()
            )),
        }
    }

    /// The unit's inputs, given each dependency's outputs (by dependency name). Keys of the
    /// unit's `inputs` win over the included file's.
    pub fn inputs(&self, outputs: &BTreeMap<String, JsonMap<String, Json>>) -> Result<JsonMap<String, Json>, String> {
        let mut vars = self.vars.clone();
        let deps: JsonMap<String, Json> = outputs
            .iter()
            .map(|(name, outs)| (name.clone(), serde_json::json!({ "outputs": outs })))
            .collect();
        vars.insert("dependency".to_string(), Json::Object(deps));
        let mut merged = JsonMap::new();
        for expr in &self.inputs {
            let value = with_frame(self.frame.clone(), || eval(expr, &vars))
                .map_err(|e| format!("{}: inputs: {e}", self.config.display()))?;
            merged.extend(value.as_object().cloned().ok_or("inputs is not an object")?);
        }
        Ok(merged)
    }

    /// The backend block Terragrunt generates from `remote_state` (`terraform { backend ... }`).
    pub fn backend_tf(&self) -> Option<(String, String)> {
        let rs = self.remote_state.as_ref()?;
        let mut text = format!("terraform {{\n  backend \"{}\" {{\n", rs.backend);
        for (k, v) in &rs.config {
            text.push_str(&format!("    {k} = {v}\n"));
        }
        text.push_str("  }\n}\n");
        Some((rs.generate_path.clone(), text))
    }
}

/// Inputs as Terragrunt hands them to Terraform: `TF_VAR_<name>`, strings as they are, other
/// values JSON-encoded; nulls are left out (the variable keeps its default).
pub fn tf_vars(inputs: &JsonMap<String, Json>) -> Vec<(String, String)> {
    inputs
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| {
            let value = match v {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            (format!("TF_VAR_{k}"), value)
        })
        .collect()
}

/// A Terraform module's `variable` blocks: name → whether it has a default; and its outputs.
pub struct ModuleInterface {
    pub variables: BTreeMap<String, bool>,
    pub outputs: BTreeSet<String>,
}

/// Reads every `.tf` file of a module directory with the HCL parser.
pub fn module_interface(dir: &Path) -> Result<ModuleInterface, String> {
    let mut variables = BTreeMap::new();
    let mut outputs = BTreeSet::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "tf"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("{}: no .tf files", dir.display()));
    }
    for file in files {
        let body = parse_file(&file)?;
        for b in body.blocks() {
            match b.identifier() {
                "variable" => {
                    variables.insert(label(b), attr(b.body(), "default").is_some());
                }
                "output" => {
                    outputs.insert(label(b));
                }
                _ => {}
            }
        }
    }
    Ok(ModuleInterface { variables, outputs })
}
