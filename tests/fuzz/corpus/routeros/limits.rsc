/ip firewall filter
add action=accept chain=input protocol=icmp limit=50/5s,2:packet
add action=drop chain=input protocol=tcp dst-port=22 in-interface-list=WAN dst-limit=10/1m,5,src-address/1m
