"""The click commands of ``scoreinv``; each file holds one command and only parses and prints."""
