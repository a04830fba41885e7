module goship.local/routerd

go 1.22
