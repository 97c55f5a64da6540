"""Human names of the codes the engine and the store use (reasons, detectors, states, actions),
marked for translation: templates show ``code|label``, translated into the page's language."""

from __future__ import annotations


def N_(message: str) -> str:
    """Mark a string for extraction into the catalog; it is translated where it is shown."""
    return message


LABELS: dict[str, str] = {
    # reasons of a risky call or a case
    "rarely_calls_abroad": N_("rarely calls abroad"),
    "risky_destination": N_("risky destination"),
    "new_destination": N_("new destination for this customer"),
    "unusual_hour": N_("unusual hour for this customer"),
    "unusual_source_country": N_("calls from an unusual country"),
    "concurrent_calls": N_("many calls at once"),
    "call_burst": N_("burst of calls"),
    "range_burst": N_("burst to one number range"),
    "address_shared_by_customers": N_("source address shared by several customers"),
    "bruteforced_credential": N_("SIP password guessed (brute force)"),
    "open_fraud_case": N_("a fraud case is open"),
    "charges_above_baseline": N_("charges above the customer's usual level"),
    "dialler_pace_over_baseline": N_("charges above the usual level, dialling new numbers"),
    "block_walk_over_baseline": N_("charges above the usual level, walking a number block"),
    "block_walk_at_night": N_("walking a number block at night, new number after new number"),
    "numbers_spread_over_a_range": N_("many numbers of one number block"),
    "established_contact_during_suspension": N_("the customer's contact, spared by the suspension"),
    "contact_during_destination_denial": N_("the customer's contact, spared by the denial"),
    "allowed_under_watch": N_("allowed under watch (cut if it runs long)"),
    "watched_call_over_its_cost": N_("watched call cut: its possible loss reached its limit"),
    "watched_call_ended_by_a_refusal": N_("watched call cut: a later call was refused"),
    "fraud_risk": N_("fraud risk"),
    # detectors (alerts)
    "call_risk": N_("risky call denied or watched"),
    "call_watch": N_("watched call cut"),
    "charge_meter": N_("charges metered"),
    "source_ip": N_("unusual source address"),
    "sip_auth_flood": N_("SIP authentication flood"),
    "sip_bruteforce": N_("SIP brute force"),
    "sip_bruteforce_success": N_("SIP brute force succeeded"),
    "country_burst": N_("burst of calls to one country"),
    "shared_source_ip": N_("address shared by customers"),
    "barred_customer_attempt": N_("attempt on a line barred by its customer"),
    # deny reasons
    "international_suspended": N_("international calling suspended"),
    "international_barred_by_customer": N_("barred at the customer's request"),
    "country_restricted": N_("country restricted"),
    "destination_denied": N_("destination denied"),
    "range_denied": N_("number range denied"),
    "ip_blocked": N_("source address blocked"),
    # case states and customer status
    "contacting": N_("contacting the customer"),
    "unreachable": N_("customer unreachable"),
    "suspended": N_("suspended"),
    "closed": N_("closed"),
    "active": N_("international calling available"),
    "barred_by_customer": N_("international calling barred (at your request)"),
    # contact results
    "no_answer": N_("no answer"),
    "confirmed_legitimate": N_("confirmed legitimate"),
    "confirmed_fraud": N_("confirmed fraud"),
    # control kinds
    "suspension": N_("suspension"),
    "country_restriction": N_("country restriction"),
    "ip_block": N_("IP block"),
    "destination_denial": N_("destination denial"),
    # severities
    "critical": N_("critical"),
    "warning": N_("warning"),
    "info": N_("info"),
    # notification status
    "sent": N_("sent"),
    "failed": N_("not sent"),
    "pending": N_("pending"),
    # the region phonenumbers gives non-geographic numbers
    "001": N_("international networks (satellite, +88x)"),
    # roles
    "analyst": N_("analyst"),
    "admin": N_("admin"),
    "customer": N_("customer"),
}

#: Days of the week, Monday first (the heat-map's rows).
WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
#: The time-of-week buckets of the calling-hours detector.
BUCKET_KINDS = (N_("weekday"), N_("weekend/holiday"))
