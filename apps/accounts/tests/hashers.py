from django.contrib.auth.hashers import Argon2PasswordHasher


class FastArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2 with tiny costs: the same code path in tests, without 100 MB and 0.3 s per hash."""

    time_cost = 1
    memory_cost = 256
    parallelism = 1
