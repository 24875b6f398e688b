//! Waking a sleeping module.
//!
//! The BC20 sleeps when idle and answers the first command after waking with a bare line end
//! only (spec section 6.3). The engine handles that on its own: a command lost so is sent again
//! after `AT` has woken the module, and the engine wakes the module ahead of commands that
//! follow a spell of idle as [`Config::wake`] says.
//! A board that wires the module's PSM_EINT pin can also pulse it first, to bring the module
//! out of power-saving mode: hand the driver a [`Wake`] (any `FnMut()` is one), and it is
//! called just before the first wake-up `AT` goes out.
//!
//! [`Config::wake`]: crate::engine::Config::wake

/// Pulses the module's wake pin (PSM_EINT). Called from the driver's poll (blocking) or the
/// runner (async), so keep it short: a falling edge held for a few milliseconds is what the
/// hardware design guide asks for.
pub trait Wake {
    /// Wake the module.
    fn wake(&mut self);
}

/// No wake pin: the module is woken by `AT` alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoWake;

impl Wake for NoWake {
    fn wake(&mut self) {}
}

impl<F: FnMut()> Wake for F {
    fn wake(&mut self) {
        self()
    }
}
