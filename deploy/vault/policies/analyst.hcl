# Analysts read ClickHouse's analytics database (tokens, never plaintext). They
# need nothing from Vault: this policy grants no path, so that a token for an
# analyst, issued by mistake, decrypts nothing. (Vault's default policy, which
# every token carries, lets it look itself up and renew itself only.)
