"""The English phrase lists behind the default lexicons of the config (matched on normalized words: lower case,
no punctuation, hyphens split), a word's comparison key and the syllables of an English word. A phrase two
lexicons share is defined once here. Sites with other wording replace a list in their config file."""

from __future__ import annotations

import re

THANKS_FOR_CALLING = ("thank you for calling", "thanks for calling")
OPENINGS = (*THANKS_FOR_CALLING, "welcome to", "my name is")
MORE_HELP = ("anything else i can help",)
MANAGER = ("supervisor", "manager")

# turn-taking (dynamics)
BACKCHANNELS = (
    "mm", "mhm", "hmm", "hm", "mm hmm", "uh huh", "um hum", "yeah", "yes", "yep", "yup", "right", "okay", "ok",
    "sure", "alright", "all right", "i see", "got it", "oh", "ah", "aha", "wow", "really", "exactly", "true",
)
QUESTION_WORDS = (
    "what", "when", "where", "who", "whom", "whose", "why", "which", "how", "is", "are", "am", "was", "were", "do",
    "does", "did", "can", "could", "will", "would", "shall", "should", "may", "might", "have", "has", "had", "isn't",
    "aren't", "don't", "doesn't", "didn't", "can't", "won't", "wouldn't",
)
COMPLAINTS = (
    "not working", "doesn't work", "still", "again", "waiting", "charged twice", "frustrated", "unacceptable",
    "ridiculous", "cancel", "complaint", "problem", "issue", "wrong",
)

HOLDS = (  # a silence announced: a hold, not dead air
    "one moment", "just a moment", "a moment please", "one second", "just a second", "give me a second",
    "give me a moment", "bear with me", "hold on", "please hold", "let me check", "let me look", "let me see",
    "let me pull up", "let me find", "let me get", "while i", "i'll check", "i will check", "i'm checking",
)

# who is the agent (roles): the service script (greeting, offer of help, verification, resolution) against the
# caller's request; "my name is" is no evidence: callers give their name as readily as agents do
AGENT_PHRASES = (
    *THANKS_FOR_CALLING, "welcome to", *MORE_HELP, "how can i help", "how may i help", "how can i assist",
    "can i help you", "help you today", "i can help you", "going to help you", "what can i do for you",
    "i can do that for you", "can i have your", "can i get your", "may i have your", "could i get your",
    "could i have your", "can you verify", "can you confirm", "let me check", "let me pull up", "your account",
    "one moment", "i can see", "i have processed", "support",
)
CUSTOMER_PHRASES = (
    *MANAGER, "i was charged", "my bill", "my account", "my order", "my package", "i want to cancel",
    "i need help with", "i'm calling about", "i am calling about", "refund me", "my money", "i would like to",
    "i'd like to", "i need to", "i want to", "i was wondering", "can you help me",
)

# language cues (cues, scores, report highlighting)
EMPATHY = (
    "i understand how", "i understand that", "i understand your", "i can imagine", "that must be", "i know how",
    "i hear you", "i'd feel the same", "i would feel the same", "that sounds frustrating",
)
APOLOGY = ("sorry", "i apologize", "i apologise", "my apologies", "apologies for")
POSITIVE = (
    "certainly", "absolutely", "of course", "i'd be glad to", "i would be glad to", "i'd be happy to",
    "i would be happy to", "happy to help", "glad to help", "definitely", "great news", "i can do that",
    "my pleasure", "no problem", "sure", "perfect", "great", "wonderful", "excellent", "awesome", "glad",
)
NEGATIVE = (
    "not possible", "there is nothing i can do", "there's nothing i can do", "nothing i can do", "you need to",
    "you have to", "you must", "i can't", "i cannot", "we can't", "we cannot", "not my job", "that's our policy",
    "that is our policy", "you should have", "calm down",
)
# what real agents say too (HarperValleyBank calls): "okay", "sure", "alright", "perfect", "got you"
ACKNOWLEDGEMENT = (
    "i see", "i understand", "that makes sense", "got it", "got you", "gotcha", "i hear you", "thanks for explaining",
    "okay", "ok", "sure", "alright", "all right", "perfect", "understood",
)
PARAPHRASE = (
    "so if i understand correctly", "if i understand correctly", "so what you're saying", "so what you are saying",
    "let me make sure i understand", "just to confirm", "so you're saying", "so you are saying", "in other words",
    "to make sure i have this right",
)
GREETING = (*OPENINGS, "good morning", "good afternoon", "good evening")
CLOSING = (
    *MORE_HELP, *THANKS_FOR_CALLING, "anything else i can do", "have a great day", "have a nice day",
    "have a wonderful day", "you're welcome", "you are welcome",
)
ESCALATION = (*MANAGER, "escalate", "complaint", "speak to someone else")
# taking ownership of the customer's issue against pushing it elsewhere (service behaviours)
OWNERSHIP = (
    "i'll take care of", "i will take care of", "let me take care of", "i'll make sure", "i will make sure",
    "i'll handle", "i will handle", "i'll get that", "i will get that", "i'll fix", "i will fix", "i'll send",
    "i will send", "i'll set", "i will set", "i'll go ahead", "i've gone ahead", "i have gone ahead", "let me",
    "i'll look into", "i will look into", "leave it with me", "i'll follow up",
    "i will follow up", "i've processed", "i have processed", "i've updated", "i have updated",
)
DEFLECTION = (
    "not my department", "not my problem", "that's not my", "that is not my", "you'll have to call",
    "you will have to call", "you need to call", "you have to call", "call back", "call another", "another department",
    "someone else", "can't help you",
    "cannot help you", "not something i can", "out of my hands", "i don't handle", "i do not handle",
)
RESOLUTION_CHECK = (
    *MORE_HELP, "anything else we can", "is there anything else", "anything else today", "anything else for you",
    "something else i can", "does that help", "did that help", "does that answer", "did that answer",
    "have i answered", "have i resolved", "does that solve", "did that solve", "is that everything",
    "you're all set", "you are all set", "all set",
)
HOLD_THANKS = (
    "thank you for holding", "thanks for holding", "thank you for waiting", "thanks for waiting",
    "thank you for your patience", "thanks for your patience", "sorry for the wait", "sorry to keep you waiting",
    "sorry about the wait", "thanks for bearing with me", "thank you for bearing with me",
)
# a party voicing a problem, a loss or frustration: the occasion for empathy and apology (scores)
PROBLEMS = (
    "problem", "issue", "wrong", "not working", "doesn't work", "isn't working", "broken", "lost", "stolen", "fraud",
    "charged twice", "double charged", "declined", "locked out", "frustrated", "frustrating", "annoyed", "upset",
    "angry", "unacceptable", "ridiculous", "terrible", "awful", "disappointed", "took forever", "waiting", "complaint",
    "mistake", "error", "worried", "concerned", "unfortunately", "forever", "dead air", "long time", "kept me waiting",
    "on hold for",
)
OPEN_QUESTION_STARTS = (
    "how", "why", "what happened", "what seems", "what can i", "what would", "what else", "tell me", "could you tell",
    "can you tell", "could you describe", "can you describe", "could you explain", "can you explain", "describe",
    "explain", "walk me through", "help me understand",
)


# ---------------------------------------------------------------- words


def word_key(text: str) -> str:
    """A recognized word as compared with another: lower case, letters, digits and apostrophes only ("Okay," and
    "okay." are one word)."""
    return re.sub(r"[^a-z0-9']", "", text.lower())


# ---------------------------------------------------------------- syllables

DIGIT_SYLLABLES = {"0": 2, "1": 1, "2": 1, "3": 1, "4": 1, "5": 1, "6": 1, "7": 2, "8": 1, "9": 1}


def syllables(word: str) -> int:
    """Syllables of an English word by vowel groups (0 for a word without letters or digits).

    Count runs of a, e, i, o, u, y; a final silent ``e`` does not count (but ``-le`` after a
    consonant does: "ta-ble"), nor ``-ed`` after a letter other than t or d ("charged"); at least
    one per word. Digits count as their spoken names ("7" = 2). About 90 % exact on English
    running text; the errors (``-ia``, ``-eo``, hiatus) partly cancel over a call.
    """
    w = word.lower()
    digits = sum(DIGIT_SYLLABLES[c] for c in w if c.isdigit())
    w = re.sub(r"[^a-z]", "", w)
    if not w:
        return digits
    n = len(re.findall(r"[aeiouy]+", w))
    syllabic_le = w.endswith("le") and len(w) > 2 and w[-3] not in "aeiouy"
    if n > 1 and w.endswith("e") and not w.endswith(("ee", "ye")) and not syllabic_le:
        n -= 1
    if n > 1 and w.endswith("ed") and len(w) > 3 and w[-3] not in "td":
        n -= 1
    return max(n, 1) + digits
