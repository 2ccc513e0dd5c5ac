"""Side-by-side: callbridge and the bare reference receiver under the same open-loop load."""
