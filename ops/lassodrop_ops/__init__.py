"""Operations commands for a running pipeline (`lassodrop status|ls|retry|backfill|redrive`).

Run by an operator against a deployed stack or a local `lassodrop up`; never imported by the functions.
"""
