"""The durable_rules backend: the only package that knows durable_rules.

`patterns` translates compiled rules into durable_rules definitions, `facts`
lays out the facts asserted for events, clocks and tallies, `limits` refuses
rule sets beyond the engine's fixed tables, `host` drives the engine itself,
and `backend` implements `triggers.engine.backend.Backend` on top of them.
"""

from triggers.engine.durable.backend import DurableBackend, DurableCase, DurableRules
from triggers.engine.durable.host import DurableHost, Firing, get_host

__all__ = ["DurableBackend", "DurableCase", "DurableHost", "DurableRules", "Firing", "get_host"]
