//! `ferro butane`: Butane-compatible translation, plus merging, reverse translation and
//! the JSON Schema.

use std::path::PathBuf;

use ferro_butane::{Options, translate, translate_owned};

use crate::ExitStatus;
use crate::args::{ButaneArgs, ButaneTool};
use crate::output;
use crate::printer::Printer;
use crate::render::Style;

/// What a successful run writes.
enum Output {
    Single(Box<ferro_butane::Translation>),
    Merged(String),
}

/// One input: its name in reports, its text, and the file it was read from.
struct Input {
    name: String,
    text: String,
    file: Option<PathBuf>,
}

impl Input {
    /// The text reports are rendered against. A single file's text is handed to the
    /// translation, which frees it once parsed (a large config is then not held as text
    /// and tree at once), and read again here only if there is something to show.
    fn source(&self) -> std::borrow::Cow<'_, str> {
        match &self.file {
            Some(path) if self.text.is_empty() => std::fs::read(path)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .map_or(std::borrow::Cow::Borrowed(""), std::borrow::Cow::Owned),
            _ => std::borrow::Cow::Borrowed(&self.text),
        }
    }
}

pub fn run(args: ButaneArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    if args.version {
        printer.outln(format_args!(
            "Butane {} (ferrocore)",
            env!("CARGO_PKG_VERSION")
        ))?;
        return Ok(ExitStatus::Success);
    }
    if let Some(ButaneTool::Schema { variant, version }) = &args.tool {
        let schema = ferro_butane::json_schema(variant, version)?;
        let mut text = serde_json::to_string_pretty(&schema)?;
        text.push('\n');
        output::write(printer, args.output.as_deref(), text.as_bytes())?;
        return Ok(ExitStatus::Success);
    }
    let style = Style::new(args.raw_errors, args.color, args.no_color.as_deref());
    if let Some(path) = &args.from_ignition {
        let bytes = output::read_input(Some(path))?;
        let yaml =
            ferro_butane::from_ignition(&bytes, &args.variant, args.spec_version.as_deref())?;
        output::write(printer, args.output.as_deref(), yaml.as_bytes())?;
        return Ok(ExitStatus::Success);
    }
    let mut paths: Vec<Option<PathBuf>> = args
        .input
        .iter()
        .chain(&args.inputs)
        .cloned()
        .map(Some)
        .collect();
    if paths.is_empty() {
        paths.push(None);
    }
    let mut inputs = Vec::with_capacity(paths.len());
    for path in &paths {
        let bytes = output::read_input(path.as_deref())?;
        let name = match path {
            Some(p) if p.as_os_str() != "-" => p.display().to_string(),
            _ => "<stdin>".to_owned(),
        };
        let text = String::from_utf8(bytes)
            .map_err(|_| anyhow::anyhow!("{name}: the config is not valid UTF-8"))?;
        let file = path.clone().filter(|p| p.as_os_str() != "-");
        inputs.push(Input { name, text, file });
    }
    let options = Options {
        files_dir: args.files_dir.clone(),
        raw: args.raw,
        pretty: args.pretty,
        no_auto_compression: false,
    };
    // A single config's output is written as it is made (it can be as large as the
    // contents it embeds); merged configs come rendered.
    let result = if let [input] = inputs.as_mut_slice() {
        let single = match input.file {
            Some(_) => translate_owned(std::mem::take(&mut input.text), &options),
            None => translate(&input.text, &options),
        };
        single
            .map(|mut t| {
                let report = std::mem::take(&mut t.report);
                (Output::Single(Box::new(t)), vec![report])
            })
            .map_err(|f| (vec![f.report], f.error))
    } else {
        let texts: Vec<(&str, &str)> = inputs
            .iter()
            .map(|i| (i.name.as_str(), i.text.as_str()))
            .collect();
        ferro_butane::translate_many(&texts, &options)
            .map(|m| (Output::Merged(m.output), m.reports))
            .map_err(|f| (f.reports, f.error))
    };
    match result {
        Err((reports, error)) => {
            for (report, input) in reports.iter().zip(&inputs) {
                printer.err(style.render(report, &input.source(), &input.name));
            }
            printer.errln(format_args!("Error translating config: {error}"));
            Ok(ExitStatus::Failure)
        }
        Ok((output_text, reports)) => {
            let mut any = false;
            for (report, input) in reports.iter().zip(&inputs) {
                if !report.is_empty() {
                    any = true;
                    printer.err(style.render(report, &input.source(), &input.name));
                }
            }
            if args.strict && any {
                printer.errln("Config produced warnings and --strict was specified");
                return Ok(ExitStatus::Failure);
            }
            if !args.check {
                output::write_with(printer, args.output.as_deref(), |out| match &output_text {
                    Output::Single(translation) => translation.write_output(out),
                    Output::Merged(text) => out.write_all(text.as_bytes()),
                })?;
            }
            // The process ends here: freeing a large translation (a tree of its
            // config and a map of every path's origin) only delays the exit.
            std::mem::forget(output_text);
            Ok(ExitStatus::Success)
        }
    }
}
