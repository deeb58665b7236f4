"""Use cases: a typed request in, a typed result out, adapters passed in. Front ends (the CLI, the
service) call these; none of them prints or exits."""
