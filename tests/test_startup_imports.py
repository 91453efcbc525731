"""Start-up stays light: loading the apps (every command, every worker) imports neither pandas,
numpy nor pyarrow. The admin imports the import resources and services at start-up; the data
libraries are imported by the code that reads or writes rows (0.4 s of each command's start-up
was pandas, a fifth of ``import_csv`` of a 60,000-row file)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("pandas", "numpy", "pyarrow")

SCRIPT = """
import importlib, json, sys
import django
django.setup()
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def _loaded_after(*modules: str) -> list[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "loyalty_site.settings", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", SCRIPT.format(heavy=HEAVY), *modules],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return __import__("json").loads(done.stdout.strip().splitlines()[-1])


def test_django_setup_imports_no_data_library():
    assert _loaded_after() == []


def test_import_csv_command_imports_no_data_library_before_it_runs():
    # The contract files (all kinds but transactions) need only pyarrow, and only to write.
    assert _loaded_after("retailers.management.commands.import_csv") == []


def test_the_probe_sees_a_data_library_when_one_is_imported():
    assert _loaded_after("customers.services.transactions_import") == sorted(HEAVY)
