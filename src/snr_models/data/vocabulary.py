"""The domain's vocabulary, defined once: what the contract accepts and the simulator draws.

Every tuple is in a fixed order (the order reports and the simulator use).
"""

from __future__ import annotations

__all__ = [
    "CHANNELS",
    "CLOSE_REASONS",
    "OUTREACH_ARMS",
    "OUTREACH_CHANNELS",
    "RATING_ATTRIBUTES",
    "RISK_LEVELS",
    "SEGMENTS",
    "SURVEY_TRIGGERS",
    "TICKET_CATEGORIES",
    "UNIT_TYPES",
]

#: Client segments (``clients.segment``).
SEGMENTS: tuple[str, ...] = ("retail", "high_net_worth", "institutional")
#: Suitability risk levels (``clients.risk_level``).
RISK_LEVELS: tuple[str, ...] = ("C1", "C2", "C3", "C4", "C5")
#: Why an account closed (``clients.close_reason``).
CLOSE_REASONS: tuple[str, ...] = ("closed", "transferred")
#: Ticket categories (``tickets.category``).
TICKET_CATEGORIES: tuple[str, ...] = (
    "fund_transfer",
    "account_opening",
    "contract_rollover",
    "credit_line_change",
    "margin_call",
    "complaint",
    "app_issue",
    "other",
)
#: Service channels a ticket comes through (``tickets.channel``).
CHANNELS: tuple[str, ...] = ("app", "phone", "branch", "chat", "ai_assistant")
#: What prompted a survey response (``surveys.trigger``).
SURVEY_TRIGGERS: tuple[str, ...] = ("periodic", "post_ticket")
#: Where an intervention is rolled out (``interventions.unit_type``).
UNIT_TYPES: tuple[str, ...] = ("branch", "firm")
#: Attribute ratings of a survey response (``surveys``), each an int 1-5 or null.
RATING_ATTRIBUTES: tuple[str, ...] = (
    "speed",
    "accuracy",
    "staff_knowledge",
    "app_experience",
    "fees_rates",
    "communication",
    "problem_resolution",
)
#: How a retention contact is made (``outreach.channel``).
OUTREACH_CHANNELS: tuple[str, ...] = ("phone", "branch", "app", "sms")
#: The randomised arm of a client in a retention campaign (``outreach.assigned``).
OUTREACH_ARMS: tuple[str, ...] = ("treatment", "holdout")
