//! `ferro vm …`: renders the VM operations of `ferro_vm::vm`.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use ferro_vm::accel::Accel;
use ferro_vm::qemu::{Console, DirectBoot, Firmware};
use ferro_vm::vm::{self, RunOptions, Stopped};
use ferro_vm::{ssh, state};

use crate::ExitStatus;
use crate::args_vm::{
    AccelArg, FirmwareArg, VmArgs, VmListArgs, VmRunArgs, VmSshArgs, VmStopArgs, VmVerb,
};
use crate::printer::Printer;

/// Runs one `ferro vm` command.
pub fn run(args: VmArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let root = args.state_dir.unwrap_or_else(state::default_root);
    match args.verb {
        VmVerb::Run(run) => run_vm(&root, run, printer),
        VmVerb::Ssh(ssh) => ssh_vm(&root, ssh),
        VmVerb::Stop(stop) => stop_vm(&root, stop, printer),
        VmVerb::List(list) => list_vms(&root, list, printer),
    }
}

fn run_vm(root: &Path, args: VmRunArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let options = RunOptions {
        name: args.name,
        image: args.image,
        ignition: args.ignition,
        cdrom: args.cdrom,
        direct_boot: args.kernel.map(|kernel| DirectBoot {
            kernel,
            initrd: args.initrd.unwrap_or_default(),
            append: args.append,
        }),
        memory_mb: args.memory,
        cpus: args.cpus,
        publish: args.publish,
        ssh_port: args.ssh_port,
        console: args.console.map(|path| {
            if path.as_os_str() == "-" {
                Console::Stdio
            } else {
                Console::File(path)
            }
        }),
        accel: match args.accel {
            AccelArg::Auto => None,
            AccelArg::Kvm => Some(Accel::Kvm),
            AccelArg::Tcg => Some(Accel::Tcg),
        },
        foreground: args.foreground,
        firmware: match args.firmware {
            FirmwareArg::Bios => Firmware::Bios,
            FirmwareArg::Uefi => Firmware::Uefi,
        },
    };
    let started = vm::run(root, &options)?;
    let record = &started.record;
    let Some(pid) = started.pid else {
        // A foreground run has ended with the VM.
        return Ok(ExitStatus::Success);
    };
    let ports: Vec<String> = record.publish.iter().map(ToString::to_string).collect();
    printer.errln(format_args!(
        "VM '{}' running (pid {pid}, {}): ssh port {}{}{}",
        record.name,
        record.accel.name(),
        record.ssh_port,
        if ports.is_empty() { "" } else { ", published " },
        ports.join(" "),
    ));
    if let Some(console) = &record.console {
        printer.errln(format_args!("console: {}", console.display()));
    }
    if args.wait_ssh {
        let elapsed = wait_ssh(&started, Duration::from_secs(args.wait_timeout), printer)?;
        printer.errln(format_args!(
            "SSH answered after {:.1} s: ferro vm ssh {}",
            elapsed.as_secs_f64(),
            record.name
        ));
    }
    Ok(ExitStatus::Success)
}

/// Waits for SSH; on a terminal a spinner shows the console's last line.
fn wait_ssh(
    started: &vm::Started,
    timeout: Duration,
    printer: &Printer,
) -> anyhow::Result<Duration> {
    let bar = printer.spinner("waiting for SSH");
    let mut progress = |line: Option<&str>| {
        if let Some(line) = line {
            bar.set_message(format!("waiting for SSH | {line}"));
        }
    };
    let result = vm::wait_ssh(&started.vm, &started.record, timeout, &mut progress);
    bar.finish_and_clear();
    Ok(result?)
}

fn ssh_vm(root: &Path, args: VmSshArgs) -> anyhow::Result<ExitStatus> {
    let record = state::VmDir::new(root, &args.name)?.read_record()?;
    let error = std::process::Command::new("ssh")
        .args(ssh::command_args(
            record.ssh_port,
            args.identity.as_deref(),
            &args.command,
        ))
        .exec();
    Err(error).context("could not run ssh (install openssh-client)")
}

fn stop_vm(root: &Path, args: VmStopArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let how = match vm::stop(root, &args.name, Duration::from_secs(args.timeout))? {
        Stopped::NotRunning => "was not running",
        Stopped::PoweredOff => "powered off",
        Stopped::Quit => "stopped (QEMU quit)",
        Stopped::Killed => "killed",
    };
    printer.errln(format_args!("VM '{}' {how}", args.name));
    Ok(ExitStatus::Success)
}

fn list_vms(root: &Path, args: VmListArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let vms = vm::status(root)?;
    if args.json {
        printer.json(&vms)?;
        return Ok(ExitStatus::Success);
    }
    printer.outln(format_args!(
        "{:<16} {:<8} {:>8} {:>6}  {:<20} IMAGE",
        "NAME", "STATE", "PID", "SSH", "PORTS"
    ))?;
    for vm in vms {
        let ports: Vec<String> = vm.record.publish.iter().map(ToString::to_string).collect();
        printer.outln(format_args!(
            "{:<16} {:<8} {:>8} {:>6}  {:<20} {}",
            vm.record.name,
            if vm.running { "running" } else { "stopped" },
            vm.pid.map_or("-".into(), |p| p.to_string()),
            vm.record.ssh_port,
            if ports.is_empty() {
                "-".into()
            } else {
                ports.join(",")
            },
            vm.record.image.display(),
        ))?;
    }
    Ok(ExitStatus::Success)
}
