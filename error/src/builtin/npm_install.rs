//! Built-in plugin `npm-install`: errors of `npm install` / `npm ci` / `npm run` and of
//! `pnpm install` / `pnpm add`, by the error code the package manager prints.
//!
//! Formats (captured with npm 11.19 and pnpm 10.34, `error/tests/fixtures/npm/` and
//! `pnpm/`, registries on 127.0.0.1, under `.invalid` and the public one):
//!
//! - npm: `npm error code E404` (npm 6 and older: `npm ERR! code`), then lines such as
//!   `npm error 404 Not Found - GET https://registry.npmjs.org/x`, `npm error notarget No
//!   matching version found for left-pad@99.0.0.`, `npm error network request to ... failed,
//!   reason: getaddrinfo ENOTFOUND host`, `npm error path /x/package.json`; a missing script
//!   is `npm error Missing script: "build"` without a code.
//! - pnpm: ` ERR_PNPM_FETCH_404  GET https://registry.npmjs.org/x: Not Found - 404`,
//!   ` ERR_PNPM_NO_MATCHING_VERSION  No matching version found for ...`,
//!   ` ERR_PNPM_META_FETCH_FAIL  GET http://host/x: request to ... failed, reason: connect
//!   ECONNREFUSED ...`.
//!
//! Classes: E429 / `FETCH_429` -> `rate_limited`; network codes (`ECONNREFUSED`,
//! `ECONNRESET`, `ETIMEDOUT`, `EAI_AGAIN`, `ENOTFOUND`, ...), `E5xx` / `FETCH_5xx` and
//! pnpm's `META_FETCH_FAIL` with a network reason -> `transient`; anything else (E404,
//! ETARGET, ERESOLVE, EJSONPARSE, ENOENT, auth codes, a missing script) -> `permanent`.
//! The diagnostic carries the code and the message line (with `package.json`'s path when
//! npm names it). The shipped external plugin `npm` (error/plugins/npm) runs first for npm
//! commands and decides the same way; this one adds the diagnostic and covers pnpm.

use regex::Regex;
use std::sync::LazyLock;

use crate::builtin::network::classify_api_text;
use crate::diagnostic::{Diagnostic, Severity};
use crate::error_class::ErrorClass;
use crate::plugin::{Finding, Plugin, PluginInput, PluginRunError, Specificity, Verdict};

static NPM_CODE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^npm (?:error|ERR!) code (\S+)$").expect("static regex"));
static NPM_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^npm (?:error|ERR!) (.+)$").expect("static regex"));
static NPM_DETAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:code|syscall|errno|path|A complete log of this run) ").expect("static regex")
});
static NPM_CATEGORY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:notarget|network|enoent|JSON\.parse) ").expect("static regex")
});
static NPM_PATH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^npm (?:error|ERR!) path (\S+)$").expect("static regex"));
static NPM_MISSING_SCRIPT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^npm (?:error|ERR!) (Missing script: "[^"]+")"#).expect("static regex")
});
static PNPM_ERROR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*(ERR_PNPM_\w+)\s+(.+)$").expect("static regex"));
static NETWORK_CODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:ECONNREFUSED|ECONNRESET|ETIMEDOUT|EAI_AGAIN|ENOTFOUND|EPIPE|EHOSTUNREACH|ENETUNREACH|ECONNABORTED|ERR_SOCKET_TIMEOUT|E5\d\d|ERR_PNPM_FETCH_5\d\d)$")
        .expect("static regex")
});

/// The error a package manager printed.
struct PackageError {
    tool: &'static str,
    code: String,
    message: String,
    path: Option<String>,
}

fn npm_error(text: &str) -> Option<PackageError> {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    if let Some(at) = lines.iter().position(|line| NPM_CODE.is_match(line)) {
        let code = NPM_CODE.captures(lines[at])?[1].to_string();
        let message = lines[at + 1..]
            .iter()
            .filter_map(|line| {
                NPM_LINE
                    .captures(line)
                    .map(|caps| caps[1].trim().to_string())
            })
            .find(|rest| !rest.is_empty() && !NPM_DETAIL.is_match(rest) && rest != "404")
            .map(|rest| NPM_CATEGORY.replace(&rest, "").into_owned())
            .unwrap_or_else(|| code.clone());
        let path = lines
            .iter()
            .find_map(|line| NPM_PATH.captures(line).map(|caps| caps[1].to_string()));
        return Some(PackageError {
            tool: "npm",
            code,
            message,
            path,
        });
    }
    lines.iter().find_map(|line| {
        NPM_MISSING_SCRIPT.captures(line).map(|caps| PackageError {
            tool: "npm",
            code: "missing-script".to_string(),
            message: caps[1].to_string(),
            path: None,
        })
    })
}

fn pnpm_error(text: &str) -> Option<PackageError> {
    text.lines().find_map(|line| {
        PNPM_ERROR.captures(line).map(|caps| PackageError {
            tool: "pnpm",
            code: caps[1].to_string(),
            message: caps[2].trim().to_string(),
            path: None,
        })
    })
}

impl PackageError {
    fn class(&self, input: &PluginInput<'_>) -> (ErrorClass, &'static str) {
        let code = self.code.as_str();
        if code == "E429" || code == "ERR_PNPM_FETCH_429" {
            let limited = classify_api_text(&self.message, input.failure.finished_at)
                .map(|error| error.class)
                .filter(|class| matches!(class, ErrorClass::RateLimited { .. }))
                .unwrap_or_else(ErrorClass::rate_limited);
            return (limited, "the registry rate limited us");
        }
        if NETWORK_CODE.is_match(code) {
            return (ErrorClass::Transient, "the registry could not be reached");
        }
        if code == "ERR_PNPM_META_FETCH_FAIL"
            && let Some(error) = classify_api_text(&self.message, input.failure.finished_at)
        {
            return (error.class, error.what);
        }
        (
            ErrorClass::Permanent,
            "fix the package name, version, package.json or credentials",
        )
    }
}

/// The `npm-install` plugin (see the module doc).
#[derive(Debug, Default)]
pub struct NpmInstallPlugin;

impl Plugin for NpmInstallPlugin {
    fn id(&self) -> &str {
        "npm-install"
    }

    fn description(&self) -> &str {
        "npm and pnpm install/run errors by error code (npm 11, pnpm 10), with the message as a diagnostic"
    }

    fn specificity(&self) -> Specificity {
        Specificity::Tool
    }

    fn applies_to(&self, input: &PluginInput<'_>) -> bool {
        let failure = input.failure;
        ["npm", "npx", "pnpm", "pnpx"]
            .iter()
            .any(|tool| failure.command_mentions(tool))
            || input.text.contains("npm error ")
            || input.text.contains("npm ERR! ")
            || input.text.contains("ERR_PNPM_")
    }

    fn analyse(&self, input: &PluginInput<'_>) -> Result<Finding, PluginRunError> {
        let Some(error) = pnpm_error(input.text).or_else(|| npm_error(input.text)) else {
            return Ok(Finding::none());
        };
        let (class, what) = error.class(input);
        let mut diagnostic =
            Diagnostic::new(Severity::Error, error.message.clone()).with_code(error.code.clone());
        if let Some(path) = &error.path {
            diagnostic = diagnostic.at(path, None, None);
        }
        Ok(Finding {
            verdict: Some(Verdict {
                class,
                summary: format!("{} {}: {} ({what})", error.tool, error.code, error.message),
                key: format!("{} {} {}", error.tool, error.code, error.message),
            }),
            diagnostics: vec![diagnostic],
        })
    }
}
