"""SQL models, engine, migrations and repositories."""
