"""The Gatehouse Authenticator: phones paired to a user's account approve sign-ins by number
matching, with answers signed by a key that never leaves the phone (docs/authenticator.md)."""
