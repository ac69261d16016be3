
	seed-pb-1chatúŸ”¾*internal2cZ
feishu
rephiÜŸ”¾b
kv