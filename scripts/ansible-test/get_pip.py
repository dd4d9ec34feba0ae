"""Offline stand-in for get-pip.py, used by ansible-test --venv.

ansible-test bootstraps pip in its sanity venvs by downloading get-pip.py from ci-files.testing.ansible.com, which
this lab cannot reach. This script does the same job with what is at hand: ensurepip's bundled pip, then pip itself
installs the requested packages (pip==X, setuptools, wheel) from the configured package index.
"""

import ensurepip
import os
import subprocess
import sys

GET_PIP_ONLY_FLAGS = {"--no-setuptools", "--no-wheel"}

env = dict(os.environ)
ensurepip.bootstrap(upgrade=True)
# ensurepip points PIP_CONFIG_FILE at /dev/null in this process; the real install must see the machine's pip
# configuration (index, CA bundle), so it runs with the environment as it was before.
args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY_FLAGS]
subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", *args], env=env)
