"""The web console: server-rendered pages under ``/console`` of ``outreach api`` for marketers
(segments, templates, campaigns), analysts (reports) and admins (operations).

It is an edge, like the API's routes: pages call the same services with the same roles, and
each page declares the roles it admits (``auth.console_allow``). ``install_console`` adds its
routes and its error pages to the API app.
"""

from outreach.api.console.app import install_console

__all__ = ["install_console"]
