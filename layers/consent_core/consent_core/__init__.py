"""The consent rules, sans-io: strings in, strings out, standard library only.

Nothing here knows CloudFront's event shape or Lambda's runtime (`consent_edge` does), so that
the rules fit a viewer function's package of a few kilobytes and test without an event.
"""
