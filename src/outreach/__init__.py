"""outreach: patient communication engine for clinics."""

__version__ = "0.1.0"
