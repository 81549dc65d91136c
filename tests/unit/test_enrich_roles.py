"""roles.rules.v2: the 6W roles of hand-written chat turns, notes, news and instructions."""

from __future__ import annotations

import pytest

from lumina.enrich.attribution_fast import FastAttribution
from lumina.enrich.roles_rules import RuleRoles
from lumina.enrich.stage import Draft
from lumina.enrich.tokenizer import RegexTokenizer
from lumina.schemas import Roles, TextEvent

# (text, author, expected): each expected value is a word the filler must contain
# (case-insensitive); None means the role must stay empty.
CASES: list[tuple[str, str, dict[str, str | None]]] = [
    ("I met Alice at the office yesterday because the release slipped.", "bob",
     {"who": "bob", "what": "met", "when": "yesterday", "where": "office",
      "why": "release slipped", "how": None}),
    ("Alice went to Paris last week to visit her parents.", "bob",
     {"who": "Alice", "what": "went", "when": "last week", "where": "Paris"}),
    ("We will ship the new build on Monday using the canary pipeline.", "carol",
     {"who": "carol", "what": "ship", "when": "Monday", "how": "canary pipeline",
      "where": None}),
    ("Meeting with the design team at 3pm in Berlin.", "dave",
     {"who": "dave", "when": "3pm", "where": "Berlin", "how": None}),
    ("Reminder: call the dentist tomorrow at 10:30.", "erin",
     {"who": "erin", "what": "call the dentist", "when": "tomorrow at 10:30"}),
    ("The server crashed due to a memory leak in the cache.", "ops-bot",
     {"who": "server", "what": "crashed", "why": "memory leak", "when": None}),
    ("Bob said the deploy failed because the disk was full.", "alice",
     {"who": "Bob", "what": "said", "why": "disk was full"}),
    ("Can you send me the report by Friday?", "alice",
     {"who": None, "what": "send", "when": "Friday", "how": None}),
    ("She fixed the bug quickly with a one-line patch.", "bob",
     {"what": "fixed", "how": "patch"}),
    ("Deployed v2.3 to production via the CI pipeline at 14:05.", "ci",
     {"who": "ci", "what": "deployed", "when": "14:05", "how": "CI pipeline"}),
    ("Lunch with Carol near Union Square on March 3rd.", "bob",
     {"who": "bob", "when": "March 3rd", "where": "Union Square", "how": None}),
    ("The board approved the merger on 2024-05-01 in New York.", "newsdesk",
     {"what": "approved the merger", "when": "2024-05-01", "where": "New York"}),
    ("Tomorrow I'm flying from London to Tokyo for the conference.", "frank",
     {"who": "frank", "what": "flying", "when": "Tomorrow", "where": "London"}),
    ("Please restart the worker tonight so that the new config loads.", "alice",
     {"who": "alice", "what": "restart", "when": "tonight", "why": "new config loads"}),
    ("Sales dropped 10% in Q3 since the main supplier went bankrupt.", "analyst",
     {"who": "Sales", "what": "dropped", "why": "supplier went bankrupt", "where": None}),
    ("Dr. Smith will review the scans at the hospital on Thursday.", "nurse",
     {"who": "Smith", "what": "review", "when": "Thursday", "where": "hospital"}),
    ("We moved the meeting to next Tuesday in order to include the London team.", "gina",
     {"who": "gina", "what": "moved", "when": "next Tuesday", "why": "include the London team"}),
    ("Carefully unplug the router and wait thirty seconds.", "helpdesk",
     {"what": "unplug", "how": "carefully"}),
    ("Alice and Bob argued about the budget in the kitchen.", "carol",
     {"who": "Alice and Bob", "what": "argued", "where": "kitchen"}),
    ("lol yes, see you at the gym at 7", "alice",
     {"who": "alice", "what": "see", "when": "7", "where": "gym"}),
    ("Our Kubernetes cluster in Frankfurt went down overnight because of a bad certificate.",
     "sre", {"what": "went down", "when": "overnight", "where": "Frankfurt",
             "why": "bad certificate"}),
    ("Yesterday Reuters reported that Bank of America cut rates in New York.", "news",
     {"who": "Reuters", "what": "reported", "when": "Yesterday", "where": "New York"}),
    ("Because it rained, we stayed home and watched films.", "bob",
     {"who": "bob", "where": "home", "why": "it rained"}),
    ("I paid the invoice by bank transfer since Monday was a holiday.", "bob",
     {"who": "bob", "when": "Monday", "how": "bank transfer", "why": None}),
]  # fmt: skip


def _roles(text: str, author: str | None) -> Roles:
    draft = Draft.from_event(TextEvent(scope="t", text=text, author=author), 0)
    stages = (RegexTokenizer(), FastAttribution(), RuleRoles())
    drafts = [draft]
    for stage in stages:
        drafts = stage(drafts)
    return drafts[0].roles


@pytest.mark.parametrize(("text", "author", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_roles_rules_table(text: str, author: str, expected: dict[str, str | None]) -> None:
    roles = _roles(text, author)
    for role, want in expected.items():
        got = getattr(roles, role)
        if want is None:
            assert got is None, f"{role} should be empty, got {got!r}"
        else:
            assert got is not None and want.lower() in got.lower(), f"{role}: {got!r} ≠ {want!r}"


def test_roles_first_person_is_the_author() -> None:
    for text in ("I booked the flights to Oslo.", "We shipped it!", "I'm moving to Lisbon."):
        assert _roles(text, "maria.k").who == "maria.k"


def test_roles_other_pronoun_subjects_are_nobody_the_text_names() -> None:
    # The author wrote about someone else: "she" is not the author, and no coreference
    # runs here, so who stays empty instead of being wrong.
    for text in (
        "She moved to Berlin last year.",
        "He'll call the bank tomorrow.",
        "They shipped the release on Friday.",
        "It crashed again overnight.",
        "Did you see the email from legal?",
        "That was a great demo.",
    ):
        assert _roles(text, "maria.k").who is None, text
    # A demonstrative before a verb is no noun phrase, so no subject is made up of it.
    assert _roles("This broke the nightly build.", "maria.k").who in (None, "maria.k")


def test_roles_indefinite_pronouns_are_kept_as_written() -> None:
    assert _roles("Can someone review my pull request today?", "kemi").who == "someone"
    assert _roles("Everyone left the office early.", "kemi").who == "Everyone"


def test_roles_a_vocative_names_who_is_asked_or_told() -> None:
    assert _roles("Sam, can you send me the logs?", "chloe").who == "Sam"
    assert _roles("Dana, you left your charger in room 2.", "chidi").who == "Dana"
    assert _roles("Ben, please book a meeting room.", "lena").who == "Ben"
    # Not the actor when the clause has its own subject; not a name when a common word.
    assert _roles("Chloe, the client called.", "omar").who == "client"
    assert _roles("Chloe, I pushed the fix.", "omar").who == "omar"
    assert _roles("Sure, I'll do it tonight.", "pablo").who == "pablo"
    assert _roles("Great, ship it.", "pablo").who == "pablo"


def test_roles_a_common_noun_subject_is_who_not_the_author() -> None:
    # An explicit subject is the text's actor (or, per the guide, null for a non-actor, which
    # these rules cannot tell apart): never the author.
    assert _roles("The city council approved the budget.", "news").who == "city council"


def test_roles_what_is_not_a_subject_is_not_made_one() -> None:
    # A question's subject, an adjective before "to", a verb inside the words after "The":
    # none of them is who, and a guess would be worse than the author or nothing.
    assert _roles("Who is presenting the roadmap at the workshop?", "alice").who is None
    assert _roles("Glad to hear it, the fix worked.", "bob").who == "bob"
    assert _roles("Sorry to hear that, Carol.", "bob").who == "bob"
    assert _roles("The ranking uses salience and recency.", "bob").who == "bob"
    assert _roles("The Helm chart still needs a probe.", "carol").who == "Helm chart"


def test_roles_named_subject_wins_over_author() -> None:
    assert _roles("Yuki closed the incident at midnight.", "oncall").who == "Yuki"


def test_roles_no_author_and_no_subject_leaves_who_empty() -> None:
    assert _roles("restart the worker", None).who is None


def test_roles_since_with_a_date_is_when_not_why() -> None:
    roles = _roles("The API has been flaky since Monday.", "sre")
    assert roles.why is None
    assert roles.when == "Monday"


def test_roles_fillers_are_trimmed_slices_of_the_text() -> None:
    text = "We met at the Louvre, because Anna insisted!"
    roles = _roles(text, "joe")
    assert roles.where == "Louvre"
    assert roles.why == "Anna insisted"
    for filler in (roles.where, roles.why):
        assert filler in text


def test_roles_mid_sentence_first_person_contraction_is_the_author() -> None:
    from lumina.enrich import enrich
    from lumina.schemas import TextEvent

    event = TextEvent(scope="s", author="Dan", text="Then I'll pause the nightly export tonight.")
    unit = enrich([event])[0]
    assert unit.roles.who == "Dan"
    assert all(e.text != "I'll" for e in unit.entities)
