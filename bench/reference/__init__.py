"""The bare reference receiver: the least a correct PBX webhook receiver does."""
