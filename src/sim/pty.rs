//! The emulator behind a pseudo-terminal (unix), through rustix's safe wrappers.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::string::String;
use std::time::Duration;
use std::vec::Vec;

use rustix::fs::{Mode, OFlags};
use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
use rustix::termios::{OptionalActions, tcgetattr, tcsetattr};

use super::runner::{Emulator, ModulePort};
use super::{Config, Sim};

/// The master side of a pty, kept alive together with one handle on the device side so the
/// master never sees a hang-up while no program has the device open.
struct PtyPort {
    master: File,
    _device: OwnedFd,
}

impl ModulePort for PtyPort {
    fn read_host(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.master.read(buf) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            // EIO while no program holds the device: nothing to read.
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::IO.raw_os_error()) => Ok(0),
            Err(e) => Err(e),
        }
    }

    fn write_module(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self.master.write(bytes) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(e),
        }
    }
}

/// Create a pseudo-terminal in raw mode, run an emulator behind it, and return the path of the
/// device a program opens as its serial port (e.g. `/dev/pts/7`).
pub fn start_pty(config: Config) -> io::Result<(PathBuf, Emulator)> {
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY)?;
    grantpt(&master)?;
    unlockpt(&master)?;
    let name = ptsname(&master, Vec::new())?;
    let path = PathBuf::from(String::from_utf8_lossy(name.as_bytes()).into_owned());
    let device = rustix::fs::open(
        &path,
        OFlags::RDWR | OFlags::NOCTTY | OFlags::NONBLOCK,
        Mode::empty(),
    )?;
    // Raw mode: no echo, no CR/LF translation, bytes pass as they are.
    let mut t = tcgetattr(&device)?;
    t.make_raw();
    tcsetattr(&device, OptionalActions::Now, &t)?;
    let flags = rustix::fs::fcntl_getfl(&master)?;
    rustix::fs::fcntl_setfl(&master, flags | OFlags::NONBLOCK)?;
    let port = PtyPort {
        master: File::from(master),
        _device: device,
    };
    let sim = Sim::new(config);
    let emu = Emulator::spawn(sim, port);
    // Give the thread a moment to queue the boot lines before a program opens the device.
    std::thread::sleep(Duration::from_millis(1));
    Ok((path, emu))
}
