//! The `.pipeline/config.yaml` that `pipeline init` writes: every line a comment, so the
//! file is valid YAML meaning "the built-in defaults" (an empty document), with a
//! `tools:` block ready to uncomment. Uncommenting the block (removing the first `# ` of
//! each of its lines) gives valid profiles: a field that has no sensible default here
//! (`model`, `api_base`) stays commented a second time.

use std::path::PathBuf;

/// An AI CLI profile of the built-in registry and what probing it found.
#[derive(Debug, Clone)]
pub struct FoundTool {
    /// Profile name (`aider`, `codex`, `claude`).
    pub name: String,
    /// Profile kind, as written in YAML.
    pub kind: String,
    /// Where its command was found; `None` when not installed.
    pub path: Option<PathBuf>,
    /// First line of `--version`, when it printed one.
    pub version: Option<String>,
    /// The profile's model, when the built-in profile names one.
    pub model: Option<String>,
    /// The variable holding its API key.
    pub api_key_env: Option<String>,
    /// Its default timeout, in seconds.
    pub timeout_sec: Option<u64>,
}

/// How to install each CLI (the packages config/tools.yaml names).
fn install_hint(kind: &str) -> &'static str {
    match kind {
        "aider" => "pip install aider-chat",
        "codex" => "npm install -g @openai/codex",
        "claude" => "npm install -g @anthropic-ai/claude-code",
        _ => "see `pipeline tools`",
    }
}

/// The file's text for the probed `tools`: a header, which CLIs were found, a commented
/// profile for each found one, a commented custom tool and `scope_overlap`.
pub fn render_config(tools: &[FoundTool]) -> String {
    let mut out = String::from(HEADER);
    out.push_str("#\n# AI coding CLIs on this machine when `pipeline init` ran:\n");
    let width = tools.iter().map(|t| t.name.len()).max().unwrap_or(0);
    for tool in tools {
        let state = match (&tool.path, &tool.version) {
            (Some(path), Some(version)) => format!("found: {} ({version})", path.display()),
            (Some(path), None) => format!("found: {}", path.display()),
            (None, _) => format!("not found (install: {})", install_hint(&tool.kind)),
        };
        out.push_str(&format!("#   {:width$}  {state}\n", tool.name));
    }
    out.push_str(
        "#\n# Tool profiles override the built-in ones (config/tools.yaml) field by field.\n",
    );
    out.push_str("#\n# tools:\n");
    for tool in tools.iter().filter(|t| t.path.is_some()) {
        render_profile(&mut out, tool);
    }
    out.push_str(CUSTOM_TOOL);
    out.push_str(SETTINGS);
    out
}

fn render_profile(out: &mut String, tool: &FoundTool) {
    out.push_str(&format!("#   {}:\n", tool.name));
    match &tool.model {
        Some(model) => {
            out.push_str(&format!("#     model: {model}\n"));
        }
        None => {
            out.push_str("#     # model: <model name>          # passed to the CLI\n");
        }
    }
    if let Some(key) = &tool.api_key_env {
        out.push_str(&format!(
            "#     api_key_env: {key}   # the variable holding the key (never the key)\n"
        ));
    }
    out.push_str("#     # api_base: https://...         # an API endpoint of your own\n");
    if let Some(timeout) = tool.timeout_sec {
        out.push_str(&format!("#     timeout_sec: {timeout}\n"));
    }
    out.push_str("#     # args: []                      # extra flags for the CLI\n");
}

const HEADER: &str = "\
# pipeline settings for this repository, written by `pipeline init`.
#
# Every line is a comment, so this file means \"the built-in defaults\". Uncomment and
# edit what you need (remove the first `# ` of each line); unknown keys are errors.
# `pipeline tools` shows the profiles in effect and whether each command is installed.
";

const CUSTOM_TOOL: &str = "\
#   # A custom tool: any command, given the prompt as an argument or a file.
#   my-agent:
#     command: ./scripts/agent.sh
#     args: [\"--prompt-file\", \"{prompt_file}\", \"--\", \"{files}\"]
#     timeout_sec: 900
#     capabilities: [code_generation]
";

const SETTINGS: &str = "\
#
# Steps with overlapping files_scope and no path between them in the DAG: `serialize`
# (the default) runs the later-declared one on the earlier one's result; `error` fails
# validation naming both.
# scope_overlap: serialize
";

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &str, found: bool) -> FoundTool {
        FoundTool {
            name: name.into(),
            kind: name.into(),
            path: found.then(|| PathBuf::from(format!("/usr/bin/{name}"))),
            version: found.then(|| format!("{name} 1.0")),
            model: None,
            api_key_env: Some("OPENAI_API_KEY".into()),
            timeout_sec: Some(1800),
        }
    }

    #[test]
    fn every_line_is_a_comment_and_only_found_tools_get_a_profile() {
        let text = render_config(&[tool("aider", true), tool("codex", false)]);
        assert!(text.lines().all(|l| l.starts_with('#')), "{text}");
        assert!(text.contains("#   aider:\n"), "{text}");
        assert!(!text.contains("#   codex:\n"), "{text}");
        assert!(text.contains("codex  not found (install: npm install -g @openai/codex)"));
        assert!(text.contains("aider  found: /usr/bin/aider (aider 1.0)"));
    }
}
