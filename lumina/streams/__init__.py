"""The Faust app: topics, tables and the settings that tie them to a broker."""
