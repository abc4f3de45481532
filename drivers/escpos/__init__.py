"""ESC/POS: encoding, decoding, printer status and paper pictures.

Importing this package loads python-escpos's printer profiles (`escpos.capabilities`) without
leaving a file behind. That module, when first imported, makes a directory with `mkdtemp()`
(the default of its `ESCPOS_CAPABILITIES_PICKLE_DIR` look-up, so made even when the variable
is set) and pickles the profiles into it; every posedge command would leave one in /tmp.
Here it is first imported with `tempfile` pointed at a scratch directory, removed at once;
later imports find the module loaded. The command line imports this package before anything
that imports python-escpos (edge/cli/main.py).
"""

import tempfile


def _load_printer_profiles() -> None:
    with tempfile.TemporaryDirectory(prefix="posedge-escpos-") as scratch:
        default, tempfile.tempdir = tempfile.tempdir, scratch
        try:
            import escpos.capabilities  # noqa: F401  (loaded for its side effects, here)
        finally:
            tempfile.tempdir = default


_load_printer_profiles()
