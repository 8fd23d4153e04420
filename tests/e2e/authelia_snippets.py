"""The proxy configuration Authelia publishes (its documentation's nginx "Standard Example" with
proxy.conf, authelia-location.conf and authelia-authrequest.conf, and its Caddyfile), which
Gatehouse's forward-auth contract invites operators to reuse: every directive that decides which
headers reach Authelia (here Gatehouse) and the app, in the documentation's layout and with its
own names (auth.example.com, nextcloud, authelia:9091); comments and buffer and timeout tuning
left out. tests/e2e/proxies.py runs them in front of Gatehouse. None of them sets the
managed-device header, so a client's own passes through (issue 11, item 3)."""

NGINX_FILES = {
    "site-confs/auth.conf": """\
server {
    listen 80;
    server_name auth.*;
    return 301 https://$server_name$request_uri;
}

server {
    listen 443 ssl http2;
    server_name auth.*;
    include /config/nginx/snippets/ssl.conf;
    set $upstream http://authelia:9091;

    location / {
        include /config/nginx/snippets/proxy.conf;
        proxy_pass $upstream;
    }
}
""",
    "site-confs/nextcloud.conf": """\
server {
    listen 80;
    server_name nextcloud.*;
    return 301 https://$server_name$request_uri;
}

server {
    listen 443 ssl http2;
    server_name nextcloud.*;
    include /config/nginx/snippets/ssl.conf;
    include /config/nginx/snippets/authelia-location.conf;
    set $upstream http://nextcloud;

    location / {
        include /config/nginx/snippets/proxy.conf;
        include /config/nginx/snippets/authelia-authrequest.conf;
        proxy_pass $upstream;
    }
}
""",
    "snippets/proxy.conf": """\
proxy_set_header Host $host;
proxy_set_header X-Original-URL $scheme://$host$request_uri;
proxy_set_header X-Forwarded-Proto $scheme;
proxy_set_header X-Forwarded-Host $host;
proxy_set_header X-Forwarded-URI $request_uri;
proxy_set_header X-Forwarded-Ssl on;
proxy_set_header X-Forwarded-For $remote_addr;
proxy_set_header X-Real-IP $remote_addr;
proxy_http_version 1.1;
real_ip_header X-Forwarded-For;
real_ip_recursive on;
""",
    "snippets/authelia-location.conf": """\
set $upstream_authelia http://authelia:9091/api/authz/auth-request;

location /internal/authelia/authz {
    internal;
    proxy_pass $upstream_authelia;
    proxy_set_header X-Original-Method $request_method;
    proxy_set_header X-Original-URL $scheme://$host$request_uri;
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_set_header Content-Length "";
    proxy_set_header Connection "";
    proxy_pass_request_body off;
    proxy_http_version 1.1;
}
""",
    "snippets/authelia-authrequest.conf": """\
auth_request /internal/authelia/authz;
auth_request_set $user $upstream_http_remote_user;
auth_request_set $groups $upstream_http_remote_groups;
auth_request_set $name $upstream_http_remote_name;
auth_request_set $email $upstream_http_remote_email;
proxy_set_header Remote-User $user;
proxy_set_header Remote-Groups $groups;
proxy_set_header Remote-Email $email;
proxy_set_header Remote-Name $name;
auth_request_set $redirection_url $upstream_http_location;
error_page 401 =302 $redirection_url;
""",
    # Authelia's examples leave the TLS lines to the reader.
    "snippets/ssl.conf": """\
ssl_certificate     /config/nginx/tls/server.pem;
ssl_certificate_key /config/nginx/tls/server.key;
""",
}

CADDYFILE = """\
auth.example.com {
        reverse_proxy authelia:9091
}

nextcloud.example.com {
        forward_auth authelia:9091 {
                uri /api/authz/forward-auth
                copy_headers Remote-User Remote-Groups Remote-Email Remote-Name
        }

        reverse_proxy nextcloud:80
}
"""
