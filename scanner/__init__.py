"""Discovery: target parsing and scope checks, the async engine, and one module per probe."""
