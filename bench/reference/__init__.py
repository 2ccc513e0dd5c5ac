"""The bare reference receiver of issue 13: the least a correct PBX webhook receiver does."""
