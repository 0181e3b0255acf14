"""Test tiers: tests/unit (fakes, no I/O), tests/integration (real SQLite and PostgreSQL, a real RabbitMQ on a
throwaway vhost), tests/e2e (HTTP and a real browser against running services).

Fixtures live in tests/fixtures/, one module per concern.
"""
pytest_plugins = [
    "tests.fixtures.db",
    "tests.fixtures.broker",
    "tests.fixtures.system",
    "tests.fixtures.stack",
    "tests.fixtures.oidc",
]
