#!/usr/bin/env python3
"""Flash and RAM of the QEMU firmware, and which crates the flash goes to.

    python3 examples/qemu-mps2/sizes.py [ELF...]   # default: both release firmwares

Needs llvm-size, llvm-objdump and llvm-nm from `rustup component add llvm-tools` (found in
the active toolchain's sysroot; those on PATH are not used, see `tool`). Build the firmware
first (scripts/qemu-test, or cargo build --release --manifest-path
examples/qemu-mps2/Cargo.toml --target thumbv7em-none-eabihf).

Flash is text + data (code, constants and the vector table; the initial values of .data),
static RAM is data + bss (the stack comes on top). Code is attributed to crates through the
line tables (the release profile keeps them; they are not flashed): every instruction counts
for the source file it was compiled from, so code that LTO inlined into another crate's
function still counts for the crate that wrote it; the standard library's code (iterators,
slices, formatting) counts for the crate whose function it was inlined into, and for `core`
where it stands alone. Named constants in .rodata count for the crate in their symbol's path;
unnamed ones (string literals, panic locations, tables the compiler made: in practice all of
them) stay unattributed. The driver's share is quectel-bc20's; crates it
shares with the rest (heapless, embassy-sync, ...) are listed apart.
"""

import os
import re
import subprocess
import sys
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DRIVER = ("quectel-bc20",)
STD = ("core", "alloc", "compiler-builtins")


def tool(name):
    # The toolchain's own LLVM tools only: an older system llvm-objdump reads the line tables
    # and symbols of this rustc differently, and attributes some 2.5 KB of the driver's code to
    # `core` without a word.
    sysroot = subprocess.run(["rustc", "--print", "sysroot"], capture_output=True, text=True).stdout.strip()
    for d in os.listdir(os.path.join(sysroot, "lib", "rustlib")):
        p = os.path.join(sysroot, "lib", "rustlib", d, "bin", name)
        if os.path.exists(p):
            return p
    sys.exit(f"sizes.py: {name} not found in the toolchain; run `rustup component add llvm-tools`")


def run(*args):
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


_checkouts = {}


def is_driver_checkout(path):
    """A source file of the driver built from another checkout of it (a clone whose build
    shares this target directory, say)."""
    root, sep, _ = path.rpartition("/src/")
    if not sep:
        return False
    if root not in _checkouts:
        try:
            with open(os.path.join(root, "Cargo.toml")) as f:
                _checkouts[root] = 'name = "quectel-bc20"' in f.read()
        except OSError:
            _checkouts[root] = False
    return _checkouts[root]


def crate_of_path(path):
    if path.startswith(os.path.join(HERE, "src", "board")):
        return "qemu-mps2 board"
    if path.startswith(HERE):
        return "qemu-mps2 app"
    if path.startswith(os.path.join(REPO, "src")) or is_driver_checkout(path):
        return "quectel-bc20"
    m = re.search(r"/library/([a-z_-]+)/", path)
    if m and path.startswith("/rustc/"):
        return m.group(1).replace("_", "-")
    m = re.search(r"/registry/src/[^/]+/([A-Za-z0-9_-]+?)-\d+\.\d+\.\d+[^/]*/", path)
    if m:
        return m.group(1)
    return "other"


def crate_of_symbol(name):
    name = name.replace("$LT$", "<").replace("$GT$", ">").replace("..", "::").lstrip("_<& ")
    m = re.match(r"([A-Za-z0-9_]+)::", name)
    if not m:
        return None
    c = m.group(1)
    if c == "quectel_bc20":
        return "quectel-bc20"
    if c in ("bc20_async", "bc20_blocking", "bc20_qemu_mps2"):
        return "qemu-mps2 app"
    return c.replace("_", "-")


def sections(elf):
    out = {}
    for line in run(tool("llvm-size"), "-A", elf).splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith("."):
            out[parts[0]] = (int(parts[1]), int(parts[2]))
    return out


def text_by_crate(elf, start, end):
    bytes_of = defaultdict(int)
    current = "other"
    function = None  # the crate of the function being disassembled
    prev = None  # (address, crate)
    for line in run(tool("llvm-objdump"), "-d", "-l", "-C", "--no-show-raw-insn", "-j", ".text", elf).splitlines():
        m = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
        if m:
            function = crate_of_symbol(m.group(1))
            continue
        m = re.match(r"^; (/\S+):\d+", line)
        if m:
            current = crate_of_path(m.group(1))
            if current in STD and function not in (None, *STD):
                # Standard library code inlined into another crate's function: that crate's.
                current = function
            continue
        m = re.match(r"^\s+([0-9a-f]+):\s", line)
        if m:
            addr = int(m.group(1), 16)
            if prev is not None:
                bytes_of[prev[1]] += addr - prev[0]
            prev = (addr, current)
    if prev is not None:
        bytes_of[prev[1]] += end - prev[0]
    return bytes_of


def rodata_by_crate(elf, start, end):
    bytes_of = defaultdict(int)
    named = 0
    for line in run(tool("llvm-nm"), "-S", "--defined-only", elf).splitlines():
        parts = line.split(None, 3)
        if len(parts) != 4:
            continue
        addr, size = int(parts[0], 16), int(parts[1], 16)
        if start <= addr < end:
            crate = crate_of_symbol(parts[3]) or "unattributed"
            bytes_of[crate] += size
            named += size
    bytes_of["unattributed"] += (end - start) - named
    return bytes_of


def report(elf):
    s = sections(elf)
    text, rodata, vectors = s[".text"], s[".rodata"], s[".vector_table"]
    data, bss = s[".data"][0], s[".bss"][0] + s.get(".uninit", (0, 0))[0]
    flash = vectors[0] + text[0] + rodata[0] + data
    print(f"{os.path.basename(elf)}: flash {flash} bytes ({flash / 1024:.1f} KiB): "
          f"code {text[0]}, constants {rodata[0]}, vectors {vectors[0]}, .data {data}; "
          f"static RAM {data + bss} bytes ({(data + bss) / 1024:.1f} KiB): .data {data}, .bss {bss}")
    code = text_by_crate(elf, text[1], text[1] + text[0])
    consts = rodata_by_crate(elf, rodata[1], rodata[1] + rodata[0])
    crates = sorted(set(code) | set(consts), key=lambda c: -(code[c] + consts[c]))
    print(f"  {'crate':<22}{'code':>8}{'consts':>8}{'total':>8}{'of flash':>10}")
    for c in crates:
        t = code[c] + consts[c]
        print(f"  {c:<22}{code[c]:>8}{consts[c]:>8}{t:>8}{100 * t / flash:>9.1f}%")
    d = sum(code[c] + consts[c] for c in DRIVER)
    print(f"  driver (quectel-bc20): {d} bytes, {100 * d / flash:.1f} % of flash")


def main():
    elfs = sys.argv[1:] or [
        os.path.join(HERE, "target", "thumbv7em-none-eabihf", "release", n)
        for n in ("bc20-async", "bc20-blocking")
    ]
    for i, elf in enumerate(elfs):
        if i:
            print()
        report(elf)


if __name__ == "__main__":
    main()
