// Test wrapper (simulation only): a max-pool as the generator builds it, accel_swu windows into
// accel_maxpool (PE < C: the windows in chunks of PE codes). Parameters pass straight through.
`default_nettype none
module accel_swu_maxpool #(
    parameter C = 1, parameter BITS = 8, parameter SIGNED = 0,
    parameter H = 5, parameter W = 5, parameter K = 3, parameter S = 2,
    parameter PT = 0, parameter PL = 0, parameter OH = 2, parameter OW = 2,
    parameter PE = C
) (
    input  wire              clk,
    input  wire              rst_n,
    input  wire [C*BITS-1:0] s_data,
    input  wire              s_last,
    input  wire              s_valid,
    output wire              s_ready,
    output wire [C*BITS-1:0] m_data,
    output wire              m_last,
    output wire              m_valid,
    input  wire              m_ready
);
    wire [PE*BITS-1:0] w_data;
    wire w_pad, w_last, w_valid, w_ready;
    accel_swu #(.C(C), .BITS(BITS), .H(H), .W(W), .K(K), .S(S), .PT(PT), .PL(PL), .OH(OH),
                .OW(OW), .CHUNK(PE)) u_swu (
        .clk(clk), .rst_n(rst_n), .s_data(s_data), .s_last(s_last), .s_valid(s_valid),
        .s_ready(s_ready), .m_data(w_data), .m_pad(w_pad), .m_last(w_last), .m_valid(w_valid),
        .m_ready(w_ready));
    accel_maxpool #(.C(C), .BITS(BITS), .SIGNED(SIGNED), .BEATS(K*K), .PE(PE)) u_pool (
        .clk(clk), .rst_n(rst_n), .s_data(w_data), .s_pad(w_pad), .s_last(w_last),
        .s_valid(w_valid), .s_ready(w_ready), .m_data(m_data), .m_last(m_last),
        .m_valid(m_valid), .m_ready(m_ready));
endmodule
`default_nettype wire
