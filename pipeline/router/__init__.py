"""Understanding a message: intent + parameters (the pipeline's classify step).

`Router.route(text, context, forced_intent=None) -> Intent` classifies the message and fills
`Intent.params` with the generic parameters (pipeline.params) merged with the capability's own
(`Capability.parse_params`). Placeholder implementation on the keyword classifier; the router issue replaces
the classifier behind this same interface.
"""

from __future__ import annotations

from pipeline.classify import ClassifyContext, Intent, KeywordClassifier


class Router:
    def __init__(self, settings=None, registry=None):
        self.settings = settings
        self.registry = registry
        self.classifier = KeywordClassifier()

    def warm(self) -> None:
        """Load whatever model the classifier needs (called in the background at start-up)."""

    def route(self, text: str, context: ClassifyContext, forced_intent: str | None = None) -> Intent:
        if forced_intent:
            intent = Intent(name=forced_intent, confidence=1.0, candidates=[(forced_intent, 1.0)], source="forced")
        else:
            intent = self.classifier.classify(text, context)
        intent.params = self.extract_params(text, intent.name)
        return intent

    def extract_params(self, text: str, intent_name: str) -> dict:
        params: dict = {}
        if self.registry is not None:
            parse = self.registry.get(intent_name).parse_params
            if parse is not None:
                params.update(parse(text))
        return params
