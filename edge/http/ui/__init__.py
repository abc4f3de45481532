"""The store manager's web UI under /ui/: sign-in, dashboard, orders, devices, terminals,
menu and settings pages, rendered on the server with jinja2."""
