"""The home page: one section per role the user holds, and a public home for visitors."""
