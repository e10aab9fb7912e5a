"""CAD integration without Django: EIDO/CAP payloads, HMAC signing, a reference CAD receiver.

Modules: payload (IncidentPayload, UnitStatus), eido (to_eido, validate_eido),
cap (to_cap_xml, validate_cap), signing (sign, verify), receiver (ReceiverProcess).
"""
