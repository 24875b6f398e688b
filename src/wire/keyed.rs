//! Constant tables from short ASCII names to values, looked up with one loop.
//!
//! A `match` on byte strings compiles into a compare for each name, in line: several hundred
//! bytes of flash for a handful of names. A table and one comparison loop (lengths first, so
//! few bytes are compared) take far less. Names packed into one string would take 8 bytes
//! less each, but every lookup would then scan all their bytes: a third slower on the
//! control stream of `benches/parser.rs`.

/// Declare a [`Keyed`] table: `const NAME: [T] = ["key" => value, ...];`.
macro_rules! keyed {
    ($(#[$doc:meta])* const $table:ident: [$t:ty] = [$($key:literal => $value:expr),+ $(,)?];) => {
        $(#[$doc])*
        const $table: $crate::wire::keyed::Keyed<$t> = $crate::wire::keyed::Keyed {
            keys: &[$($key),+],
            values: &[$($value),+],
        };
    };
}
pub(crate) use keyed;

/// Short names and their values, in the same order (see [`keyed!`]).
pub(crate) struct Keyed<T: 'static> {
    /// The names.
    pub(crate) keys: &'static [&'static str],
    /// The value of each name, in the same order.
    pub(crate) values: &'static [T],
}

/// The value for `key` in `table`.
pub(crate) fn lookup<T: Copy>(table: &Keyed<T>, key: &[u8]) -> Option<T> {
    table.values.get(position(table.keys, key)?).copied()
}

/// Where `key` is among `keys`. (Not generic: one copy for every table.)
#[inline(never)]
fn position(keys: &[&str], key: &[u8]) -> Option<usize> {
    // Lengths first (a slice comparison does): most keys differ in it.
    keys.iter().position(|k| k.as_bytes() == key)
}
