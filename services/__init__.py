"""The domain: use-case functions both interfaces call. No HTTP in here.

Services take plain data, own the transaction (commit or roll back), return models,
and raise `services.errors.DomainError` subclasses that each interface renders its own way.
"""
