"""CAD integration without Django: EIDO/CAP payloads and HMAC signing.

Modules: payload (IncidentPayload, UnitStatus), eido (to_eido, validate_eido),
cap (to_cap_xml, validate_cap), signing (sign, verify). The reference CAD receiver that tests, demos and
benchmarks talk to is a dev tool: `tools.cad.receiver`.
"""
