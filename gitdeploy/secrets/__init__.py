"""Secrets kept encrypted in the repository: whole files encrypted with age, and SOPS files (age recipients).

Decryption happens in memory, at the moment the desired state is read; the
plaintext never reaches a label, a cache, an output or a persistent file
(docs/security.md says where it lives).
"""
