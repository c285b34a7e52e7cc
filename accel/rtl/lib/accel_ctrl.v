// AXI4-Lite control of a design with weights in DDR (issue 14): the weight image's base address
// and a run bit that holds the dataflow core in reset until the base is valid. The register map
// is accel/core/stream.py's (CTRL_REG ...); the generated accel_board passes the offsets in.
//
//   OFF_CTRL   bit 0 RUN: write 1 to release the core; taken only once BASE_SET is 1, and sticky
//              (writing 0 does nothing, only rst_n clears it). bit 1 BASE_SET (read-only).
//   OFF_BASE   the weight image's DDR byte address: byte strobes honoured, the bits below
//              ALIGN_BITS read 0 (the masters' bursts then never cross 4 KB); sets BASE_SET;
//              ignored once RUN is set.
//   OFF_BYTES  read-only WEIGHT_BYTES: the image size this bitstream was built for.
//   OFF_ID     read-only ID.
//   Other offsets read 0 and ignore writes.
//
// Why RUN is sticky and the base frozen under it: AXI has no abort, so a read master reset or
// re-based mid-burst would receive the old bursts' beats as its new data. Before RUN the core
// issues no read, so no weight is ever fetched from an address the host has not written.
// Every response is OKAY: refused writes show on read-back; an SLVERR on a PS store through
// GP0 would be a bus fault in the host program instead of a readable state.
//
// Handshakes: AW and W are taken independently (one of each held), the write happens when both
// are held and no B response is pending; one read in flight (ARREADY while RVALID is low).
// core_rst_n is registered: the core leaves reset one cycle after RUN, synchronously.
`default_nettype none
module accel_ctrl #(
    parameter ADDR_BITS = 16,
    parameter OFF_CTRL = 0,
    parameter OFF_BASE = 4,
    parameter OFF_BYTES = 8,
    parameter OFF_ID = 12,
    parameter ALIGN_BITS = 12,
    parameter [31:0] WEIGHT_BYTES = 0,
    parameter [31:0] ID = 0
) (
    input  wire                 clk,
    input  wire                 rst_n,
    input  wire [ADDR_BITS-1:0] s_axi_awaddr,
    input  wire                 s_axi_awvalid,
    output wire                 s_axi_awready,
    input  wire [31:0]          s_axi_wdata,
    input  wire [3:0]           s_axi_wstrb,
    input  wire                 s_axi_wvalid,
    output wire                 s_axi_wready,
    output wire [1:0]           s_axi_bresp,
    output reg                  s_axi_bvalid,
    input  wire                 s_axi_bready,
    input  wire [ADDR_BITS-1:0] s_axi_araddr,
    input  wire                 s_axi_arvalid,
    output wire                 s_axi_arready,
    output reg  [31:0]          s_axi_rdata,
    output wire [1:0]           s_axi_rresp,
    output reg                  s_axi_rvalid,
    input  wire                 s_axi_rready,
    output reg  [31:0]          weights_base,
    output reg                  run,
    output reg                  core_rst_n
);
    reg aw_full, w_full, base_set;
    reg [ADDR_BITS-1:0] aw_addr;
    reg [31:0] w_data;
    reg [3:0] w_strb;
    assign s_axi_awready = !aw_full;
    assign s_axi_wready = !w_full;
    assign s_axi_bresp = 2'b00;
    assign s_axi_arready = !s_axi_rvalid;
    assign s_axi_rresp = 2'b00;

    wire [31:0] mask = {{(32 - ALIGN_BITS){1'b1}}, {ALIGN_BITS{1'b0}}};
    wire [31:0] merged = {w_strb[3] ? w_data[31:24] : weights_base[31:24],
                          w_strb[2] ? w_data[23:16] : weights_base[23:16],
                          w_strb[1] ? w_data[15:8]  : weights_base[15:8],
                          w_strb[0] ? w_data[7:0]   : weights_base[7:0]};
    wire do_write = aw_full && w_full && !s_axi_bvalid;
    wire [ADDR_BITS-1:0] wa = {aw_addr[ADDR_BITS-1:2], 2'b00};
    wire [ADDR_BITS-1:0] ra = {s_axi_araddr[ADDR_BITS-1:2], 2'b00};

    always @(posedge clk or negedge rst_n) begin
        if (!rst_n) begin
            aw_full <= 1'b0; w_full <= 1'b0; aw_addr <= 0; w_data <= 0; w_strb <= 0;
            s_axi_bvalid <= 1'b0; s_axi_rvalid <= 1'b0; s_axi_rdata <= 0;
            weights_base <= 0; base_set <= 1'b0; run <= 1'b0; core_rst_n <= 1'b0;
        end else begin
            core_rst_n <= run;
            if (s_axi_awvalid && !aw_full) begin
                aw_full <= 1'b1; aw_addr <= s_axi_awaddr;
            end
            if (s_axi_wvalid && !w_full) begin
                w_full <= 1'b1; w_data <= s_axi_wdata; w_strb <= s_axi_wstrb;
            end
            if (s_axi_bvalid && s_axi_bready) s_axi_bvalid <= 1'b0;
            if (do_write) begin
                aw_full <= 1'b0; w_full <= 1'b0; s_axi_bvalid <= 1'b1;
                if (wa == OFF_BASE && !run && w_strb != 4'b0000) begin
                    weights_base <= merged & mask; base_set <= 1'b1;
                end
                if (wa == OFF_CTRL && w_strb[0] && w_data[0] && base_set) run <= 1'b1;
            end
            if (s_axi_rvalid && s_axi_rready) s_axi_rvalid <= 1'b0;
            if (s_axi_arvalid && !s_axi_rvalid) begin
                s_axi_rvalid <= 1'b1;
                s_axi_rdata <= (ra == OFF_CTRL)  ? {30'd0, base_set, run} :
                               (ra == OFF_BASE)  ? weights_base :
                               (ra == OFF_BYTES) ? WEIGHT_BYTES :
                               (ra == OFF_ID)    ? ID : 32'd0;
            end
        end
    end
endmodule
`default_nettype wire
