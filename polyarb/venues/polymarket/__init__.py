# Polymarket CLOB V2 adapter. Cryptography lives in contracts.py (constants, keccak, addresses),
# signing.py (EIP-712 orders, ClobAuth L1), l2auth.py (HMAC L2), amounts.py (maker/taker
# amounts), order_builder.py (signed orders and POST bodies) and credentials.py (secrets).
