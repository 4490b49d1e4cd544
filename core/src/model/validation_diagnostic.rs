//! Findings about workstream files, produced while loading and validating them.
//!
//! Named `Validation*` to keep them apart from `pipeline_error::Diagnostic` and
//! `pipeline_error::Severity`, which describe what a tool or test printed about the code
//! (compiler errors, lint findings), not what is wrong with a workstream file.

use std::fmt;
use std::path::{Path, PathBuf};

/// How serious a validation finding is. Errors make the input invalid (exit code 2);
/// warnings name something that will fail at run time although the files are valid (a
/// step's tool is not installed here); notes are information (a field kept but not
/// interpreted, a sibling file skipped, steps serialised because their scopes overlap).
/// `pipeline validate --strict` treats warnings and notes as errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ValidationSeverity {
    Error,
    Warning,
    Note,
}

/// One finding about a workstream file: which file, where in it (a JSON pointer such as
/// `/steps/2/depends_on/0`, or `line L, column C` for syntax errors), which step, what is
/// wrong and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ValidationDiagnostic {
    pub severity: ValidationSeverity,
    pub file: PathBuf,
    /// JSON pointer into the file, or `line L, column C`; empty for the whole file.
    pub location: String,
    /// Step or workstream id the finding is about, when known.
    pub step: Option<String>,
    pub message: String,
    /// What to do about it, when there is something useful to say.
    pub hint: Option<String>,
}

impl ValidationDiagnostic {
    /// An error at `location` of `file`.
    pub fn error(
        file: impl AsRef<Path>,
        location: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ValidationDiagnostic {
            severity: ValidationSeverity::Error,
            file: file.as_ref().to_path_buf(),
            location: location.into(),
            step: None,
            message: message.into(),
            hint: None,
        }
    }

    /// A note at `location` of `file`.
    pub fn note(
        file: impl AsRef<Path>,
        location: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ValidationDiagnostic {
            severity: ValidationSeverity::Note,
            ..ValidationDiagnostic::error(file, location, message)
        }
    }

    /// A warning at `location` of `file`.
    pub fn warning(
        file: impl AsRef<Path>,
        location: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ValidationDiagnostic {
            severity: ValidationSeverity::Warning,
            ..ValidationDiagnostic::error(file, location, message)
        }
    }

    /// Names the step or workstream the finding is about.
    pub fn with_step(mut self, step: impl Into<String>) -> Self {
        self.step = Some(step.into());
        self
    }

    /// Adds advice on what to do.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for ValidationDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            ValidationSeverity::Error => "error",
            ValidationSeverity::Warning => "warning",
            ValidationSeverity::Note => "note",
        };
        write!(f, "{level}: {}", self.file.display())?;
        if !self.location.is_empty() {
            write!(f, " at {}", self.location)?;
        }
        if let Some(step) = &self.step {
            write!(f, " (step {step})")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Loading failed: at least one error diagnostic. Carries every diagnostic found (errors
/// and notes), in file order, so the user can fix them all at once.
#[derive(Debug, Clone)]
pub struct LoadError {
    pub diagnostics: Vec<ValidationDiagnostic>,
}

impl LoadError {
    /// The error diagnostics only.
    pub fn errors(&self) -> impl Iterator<Item = &ValidationDiagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == ValidationSeverity::Error)
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for d in self.errors() {
            if !first {
                writeln!(f)?;
            }
            first = false;
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}
