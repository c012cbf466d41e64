"""The Discord side of accounts: the profile embed (``core.accounts``).
"""
