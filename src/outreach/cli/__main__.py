"""``python -m outreach.cli``: what the process launcher and the tests run."""

from outreach.cli import main

main()
