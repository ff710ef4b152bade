"""Citizens' sign-in with e-ID through an OpenID Connect provider, and Mina ärenden."""
